"""The audit log: every successful admin change over the API (and any page that sets the principal) is
one event; reads, other roles' writes and failed requests are none; the CLI records its changing
commands; the log can be read and filtered; a failing audit write never breaks the response."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import BackendUnavailable
from companion.identity.audit import AuditLog
from companion.identity.auth import Principal, Role, authenticate
from companion.settings import Settings
from companion.storage.db import Database
from tests.support.app import Api, make_api, make_settings
from tests.support.evaluation import build as build_eval_services
from tests.support.people import MENTEE, MENTOR

GUIDE = b"# Goals\n\n## SMART\n\nA goal names a measure and a date. Agree the first steps together.\n"


def events(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/v1/audit", params=params, headers=api.auth("admin"))
    assert response.status_code == 200, response.text
    return list(response.json())


def user_id(api: Api, role: str) -> int:
    with api.services.db.session() as session:
        return authenticate(session, api.tokens[role]).id


def test_each_admin_change_is_one_event_and_nothing_else_is(api: Api) -> None:
    admin, mentee = api.auth("admin"), api.auth("mentee")
    c = api.client
    # not recorded: reads, POSTs that only read, other roles' writes, refused and failed requests
    assert c.get("/v1/knowledge/documents", headers=admin).status_code == 200
    assert c.post("/v1/search", json={"query": "goals"}, headers=admin).status_code == 200
    guide = {"file": ("g.md", GUIDE)}
    assert c.post("/v1/knowledge/documents", files=guide, headers=mentee).status_code == 403
    assert c.post("/v1/knowledge/documents", files=guide).status_code == 401
    mentee_id = user_id(api, "mentee")
    own = c.post(f"/v1/mentees/{mentee_id}/goals", json=[{"statement": "My own goal"}], headers=mentee)
    assert own.status_code == 201
    assert c.delete("/v1/knowledge/documents/999999", headers=admin).status_code == 404
    bad = c.post("/v1/knowledge/documents", files={"file": ("g.md", b"\x00\x01binary")}, headers=admin)
    assert bad.status_code == 422
    assert c.post("/v1/people", json={"name": "no email"}, headers=admin).status_code == 422
    assert events(api) == []

    # recorded: one event each, newest first
    upload = c.post("/v1/knowledge/documents", files={"file": ("g.md", GUIDE)}, headers=admin)
    assert upload.status_code == 201
    doc_id = c.get("/v1/knowledge/documents", headers=admin).json()[0]["id"]
    assert c.delete(f"/v1/knowledge/documents/{doc_id}", headers=admin).status_code == 200
    people = json.dumps([MENTOR, MENTEE]).encode()
    imported = c.post("/v1/people/import", files={"file": ("p.json", people)}, headers=admin)
    assert imported.status_code == 200 and len(imported.json()["created"]) == 2
    goal = c.post(f"/v1/mentees/{mentee_id}/goals", json=[{"statement": "Set by admin"}], headers=admin)
    assert goal.status_code == 201

    got = events(api)
    assert [(e["action"], e["target"], e["details"]) for e in got] == [
        ("POST /v1/mentees/{mentee_id}/goals", f"mentee_id={mentee_id}", {"status": 201}),
        ("POST /v1/people/import", "", {"status": 200}),
        ("DELETE /v1/knowledge/documents/{document_id}", f"document_id={doc_id}", {"status": 200}),
        ("POST /v1/knowledge/documents", "", {"status": 201}),
    ]
    admin_id = user_id(api, "admin")
    assert {(e["actor_name"], e["actor_user_id"], e["via"]) for e in got} == {("admin1", admin_id, "api")}
    assert got[0]["id"] > got[-1]["id"] and got[0]["at"] >= got[-1]["at"]
    assert datetime.fromisoformat(got[0]["at"]).tzinfo is not None
    assert len(events(api)) == 4, "reading the log is not an action"


def test_a_label_on_an_eval_result_is_recorded(tmp_path: Path) -> None:
    services = build_eval_services(tmp_path, [])
    run = services.evaluation.run(suites=["feedback"])
    result_id = services.evaluation.get_run(run.id).results[0].id
    for api in make_api(services):
        url = f"/v1/evals/results/{result_id}/label"
        assert api.client.post(url, json={"good": True}, headers=api.auth("mentor")).status_code == 403
        labelled = api.client.post(url, json={"good": False, "note": "vague"}, headers=api.auth("admin"))
        assert labelled.status_code == 200
        got = events(api)
        assert [(e["action"], e["target"], e["actor_name"]) for e in got] == [
            ("POST /v1/evals/results/{result_id}/label", f"result_id={result_id}", "admin1")
        ]
    services.close()


def test_audit_api_filters_pages_and_is_admin_only(api: Api) -> None:
    audit = api.services.audit
    admin = Principal(id=user_id(api, "admin"), name="admin1", role=Role.admin)
    for n in range(3):
        audit.record(actor=admin, actor_name="admin1", action="POST /v1/people", target=f"n={n}", via="api")
    audit.record(actor=None, actor_name="ops", action="ingest", target="knowledge", via="cli")

    assert [e["target"] for e in events(api)] == ["knowledge", "n=2", "n=1", "n=0"]
    assert [e["target"] for e in events(api, actor="admin1", limit=2)] == ["n=2", "n=1"]
    assert [e["target"] for e in events(api, actor="admin1", limit=2, offset=2)] == ["n=0"]
    assert [e["target"] for e in events(api, action="PEOPLE")] == ["n=2", "n=1", "n=0"]
    assert [e["via"] for e in events(api, action="ingest")] == ["cli"]
    assert events(api, actor="nobody") == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert events(api, since=later) == []
    assert len(events(api, since="2000-01-01T00:00:00")) == 4

    assert api.client.get("/v1/audit").status_code == 401
    for role in ("mentee", "mentor"):
        response = api.client.get("/v1/audit", headers=api.auth(role))
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    for params in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"since": "yesterday"}):
        response = api.client.get("/v1/audit", params=params, headers=api.auth("admin"))
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"


def test_the_service_on_both_databases(any_db_settings: Settings) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    audit = services.audit
    gone = Principal(id=424242, name="deleted-admin", role=Role.admin)  # an account that no longer exists
    first = audit.record(actor=gone, actor_name=gone.name, action="DELETE /x", target="t" * 400, via="web")
    assert first.actor_user_id is None and first.actor_name == "deleted-admin"
    assert len(first.target) == 300, "cut to the column size rather than refused"
    audit.record(actor=None, actor_name="ops", action="backup", via="cli", details={"rows": 3})
    listed = audit.list(limit=10, offset=0)
    assert [(e.action, e.via, e.details) for e in listed] == [
        ("backup", "cli", {"rows": 3}),
        ("DELETE /x", "web", {}),
    ]
    assert all(e.at.tzinfo is not None for e in listed)
    assert [e.action for e in audit.list(limit=10, offset=0, since=listed[0].at)] == ["backup"]
    assert audit.list(limit=10, offset=0, action="100%_") == [], "LIKE wildcards are taken literally"
    with pytest.raises(ValueError, match="via"):
        audit.record(actor=None, actor_name="ops", action="x", via="email")
    services.close()


def test_pages_that_set_the_principal_are_recorded_via_web(api: Api) -> None:
    """The mechanism the web pages use: set request.state.principal (and optionally a better action)."""
    admin = Principal(id=user_id(api, "admin"), name="admin1", role=Role.admin)
    mentor = Principal(id=user_id(api, "mentor"), name="mentor1", role=Role.mentor)
    app = api.client.app

    def as_admin(request: Request, thing: str) -> dict[str, str]:
        request.state.principal = admin
        return {"ok": thing}

    def named(request: Request, thing: str) -> dict[str, str]:
        request.state.principal = admin
        request.state.audit_action = "rename thing"
        request.state.audit_target = f"thing {thing}"
        request.state.audit_details = {"to": "new name"}
        return {"ok": thing}

    def skipped(request: Request) -> dict[str, str]:
        request.state.principal = admin
        request.state.audit_skip = True
        return {"ok": "preview"}

    def as_mentor(request: Request) -> dict[str, str]:
        request.state.principal = mentor
        return {"ok": "mentor"}

    app.add_api_route("/admin/things/{thing}/archive", as_admin, methods=["POST"])  # type: ignore[attr-defined]
    app.add_api_route("/admin/things/{thing}/rename", named, methods=["POST"])  # type: ignore[attr-defined]
    app.add_api_route("/admin/preview", skipped, methods=["POST"])  # type: ignore[attr-defined]
    app.add_api_route("/mentor/thing", as_mentor, methods=["POST"])  # type: ignore[attr-defined]
    for path in ("/admin/things/7/archive", "/admin/things/8/rename", "/admin/preview", "/mentor/thing"):
        assert api.client.post(path).status_code == 200, path
    assert [(e["action"], e["target"], e["via"], e["details"]) for e in events(api)] == [
        ("rename thing", "thing 8", "web", {"status": 200, "to": "new name"}),
        ("POST /admin/things/{thing}/archive", "thing=7", "web", {"status": 200}),
    ]


class BrokenDatabase(Database):
    def session(self) -> Iterator[Session]:  # type: ignore[override]
        raise BackendUnavailable("database unavailable: audit table is on fire")


class BrokenAuditServices(Services):
    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(db=BrokenDatabase(self.settings.resolved_database_url))


def test_a_failing_audit_write_keeps_the_response(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    services = BrokenAuditServices(make_settings(tmp_path))
    services.db.create_tables()
    for api in make_api(services):
        with caplog.at_level(logging.ERROR, logger="companion.identity.audit"):
            upload = api.client.post(
                "/v1/knowledge/documents", files={"file": ("g.md", GUIDE)}, headers=api.auth("admin")
            )
        assert upload.status_code == 201 and upload.json()["added"] == ["g.md"]
        listed = api.client.get("/v1/knowledge/documents", headers=api.auth("admin")).json()
        assert [d["source"] for d in listed] == ["g.md"]
        lost = [r for r in caplog.records if "AUDIT EVENT LOST" in r.getMessage()]
        assert len(lost) == 1 and lost[0].exc_info is not None, "logged loudly, with the traceback"
        assert "POST /v1/knowledge/documents" in lost[0].getMessage()
    services.close()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "LOGNAME": "ops-auditor",  # getpass.getuser() reads LOGNAME first
        "USER": "ops-auditor",
        "COLUMNS": "200",
    }


def test_cli_commands_that_change_things_are_recorded(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(cli_app, list(args), env=cli_env)
        assert result.exit_code == 0, result.output
        return result.stdout

    guides = tmp_path / "guides"
    guides.mkdir()
    (guides / "g.md").write_bytes(GUIDE)
    people = tmp_path / "people.json"
    people.write_text(json.dumps([MENTOR, MENTEE]))
    cli("users", "add", "maya", "--role", "admin")
    cli("ingest", str(guides))
    cli("search", "goals")  # reads: not recorded
    cli("forget", "g.md")
    cli("people", "import", str(people))
    cli("people", "demo", "--size", "20", "--seed", "3")
    cli("match", "--dry-run")  # nothing stored: not recorded
    cli("match")
    cli("backup", str(tmp_path / "bk"))
    failed = runner.invoke(cli_app, ["forget", "g.md"], env=cli_env)
    assert failed.exit_code == 1, "a failed command is not recorded"

    listed = json.loads(cli("audit", "list", "--json"))
    assert [(e["action"], e["via"], e["actor_name"], e["actor_user_id"]) for e in listed][::-1] == [
        ("users add", "cli", "ops-auditor", None),
        ("ingest", "cli", "ops-auditor", None),
        ("forget", "cli", "ops-auditor", None),
        ("people import", "cli", "ops-auditor", None),
        ("people demo", "cli", "ops-auditor", None),
        ("match", "cli", "ops-auditor", None),
        ("backup", "cli", "ops-auditor", None),
    ]
    by_action = {e["action"]: e for e in listed}
    added = by_action["users add"]
    assert added["target"] == "maya" and added["details"] == {"role": "admin"}
    assert by_action["ingest"]["details"]["added"] == 1
    assert by_action["forget"]["target"] == "g.md"
    assert by_action["people import"]["details"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert by_action["match"]["target"].startswith("run_id=")
    table = cli("audit", "list", "--limit", "2")
    assert "backup" in table and "match" in table and "ingest" not in table and "ops-auditor" in table
