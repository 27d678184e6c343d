"""Property-based fuzzing of every operation in the app's own OpenAPI schema (schemathesis, in process
over ASGI, fake embeddings and model, no network). Every response must be a non-5xx answer that fits
the documented schema. Examples per operation: COMPANION_TEST_FUZZ_EXAMPLES (default 25)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.specs.openapi.checks import content_type_conformance

from companion.app import create_app
from companion.container import Services
from companion.identity.auth import Role, create_user
from tests.support.app import make_settings

EXAMPLES = int(os.environ.get("COMPANION_TEST_FUZZ_EXAMPLES", "25"))
GUIDE = "# Goals\n\n## SMART\n\nA goal names a measure and a date. Agree the first steps together.\n"
TOKEN: dict[str, str] = {}


def _fuzz_app() -> object:
    """One app for the whole module (schemathesis builds its tests from the schema at import time)."""
    tmp = Path(tempfile.mkdtemp(prefix="companion-fuzz-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    services = Services(
        make_settings(
            tmp,
            llm={"mode": "fake"},
            security={"rate_limit_per_minute": 0, "max_request_bytes": 64 * 1024},
            max_upload_bytes=32 * 1024,
            # jobs wait on a queue no consumer reads: a fuzzed full eval run answers 202 at once
            jobs={"mode": "memory"},
        )
    )
    services.db.create_tables()
    (tmp / "kb").mkdir()
    (tmp / "kb" / "goals.md").write_text(GUIDE)
    services.knowledge.ingest_paths([tmp / "kb"])
    with services.db.session() as session:
        _, TOKEN["admin"] = create_user(session, name="fuzz-admin", role=Role.admin)
    return create_app(services.settings, services=services)


schema = schemathesis.openapi.from_asgi("/openapi.json", _fuzz_app())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_fit_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN['admin']}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
