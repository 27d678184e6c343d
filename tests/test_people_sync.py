"""People sync (`import --sync`): leavers are deactivated with their history kept and their open proposals
withdrawn; a dry run reports every change and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import InvalidInput
from companion.matching.schemas import CohortRequest
from companion.storage.db import Match, Person
from tests.support.app import Api

runner = CliRunner()


def person(key: str, role: str, **extra: Any) -> dict[str, Any]:
    text = {"mentor": "expertise", "mentee": "goals"}[role]
    return {
        "id": key,
        "name": key.title(),
        "role": role,
        "timezone": "Europe/London",
        "languages": "english",
        "skills": "rtos; embedded c",
        text: "I work on RTOS scheduling for embedded C firmware.",
        **extra,
    }


ORG = [
    person("ana", "mentor", capacity=1),
    person("bo", "mentor", capacity=1),
    person("cy", "mentee"),
    person("di", "mentee"),
]


def rows(people: list[dict[str, Any]]) -> list[tuple[int, object]]:
    return list(enumerate(people, start=1))


def state(services: Services) -> dict[str, bool]:
    with services.db.session() as session:
        return {p.key: p.active for p in session.scalars(select(Person).order_by(Person.key))}


def matches_by_status(services: Services) -> dict[str, int]:
    with services.db.session() as session:
        found = session.execute(select(Match.status, func.count(Match.id)).group_by(Match.status)).all()
        return {status: int(n) for status, n in found}


def test_a_sync_deactivates_leavers_withdraws_their_proposals_and_keeps_their_history(
    services: Services,
) -> None:
    services.people.import_rows(rows(ORG))
    run = services.matching.cohort(CohortRequest())
    assert len(run.matches) == 2 and matches_by_status(services) == {"proposed": 2}
    mentor_of_cy = next(p.mentor.key for p in run.matches if p.mentee.key == "cy")
    leaver = "bo" if mentor_of_cy == "ana" else "ana"  # the mentor of di leaves

    report = services.people.import_rows(rows([p for p in ORG if p["id"] != leaver]), sync=True)

    assert report.deactivated == [leaver] and report.withdrawn == 1
    assert sorted(report.unchanged) == sorted(p["id"] for p in ORG if p["id"] != leaver)
    assert state(services)[leaver] is False and len(state(services)) == 4  # kept, not deleted
    assert matches_by_status(services) == {"proposed": 1, "withdrawn": 1}
    # never proposed again: di's recommendations and a new cohort run leave the leaver out
    recs = services.matching.recommend("di", k=5, principal=None)
    assert leaver not in [r.mentor.key for r in recs.results]
    again = services.matching.cohort(CohortRequest(mentees=["di"]))
    assert all(p.mentor.key != leaver for p in again.matches)
    with pytest.raises(InvalidInput, match="no longer active"):
        services.matching.cohort(CohortRequest(pins=[{"mentee": "di", "mentor": leaver}]))


def test_a_plain_import_deactivates_nobody_and_a_returning_person_is_reactivated(services: Services) -> None:
    services.people.import_rows(rows(ORG))
    plain = services.people.import_rows(rows(ORG[:2]))
    assert plain.deactivated == [] and all(state(services).values())
    services.people.import_rows(rows(ORG[:3]), sync=True)
    assert state(services)["di"] is False
    back = services.people.import_rows(rows(ORG), sync=True)
    assert back.reactivated == ["di"] and back.deactivated == [] and all(state(services).values())


def test_a_dry_run_lists_every_change_and_writes_nothing(services: Services) -> None:
    services.people.import_rows(rows(ORG))
    services.matching.cohort(CohortRequest())
    changed = [person("ana", "mentor", capacity=1, site="Lisbon"), ORG[1], ORG[2], person("ed", "mentee")]
    before = (state(services), matches_by_status(services))

    report = services.people.import_rows(rows(changed), sync=True, dry_run=True)

    assert report.dry_run and report.created == ["ed"] and report.updated == ["ana"]
    assert report.changes == {"ana": ["site"]} and report.deactivated == ["di"]
    assert report.embedded == 0
    assert (state(services), matches_by_status(services)) == before  # nothing written


def test_a_sync_refuses_to_empty_the_organization_and_holds_back_when_rows_name_nobody(
    services: Services,
) -> None:
    services.people.import_rows(rows(ORG))
    with pytest.raises(InvalidInput, match="would deactivate every person"):
        services.people.import_rows(rows([{"name": "nobody", "role": "mentee"}]), sync=True)
    nameless = {k: v for k, v in person("x", "mentee").items() if k != "id"}
    report = services.people.import_rows(rows([*ORG[:2], nameless]), sync=True)
    assert report.deactivated == [] and "nobody was deactivated" in report.warnings[-1].reason
    assert all(state(services).values())
    # a row that fails validation still names its person: they are not a leaver
    broken = {**ORG[3], "timezone": "Mars/Olympus"}
    report = services.people.import_rows(rows([*ORG[:3], broken]), sync=True)
    assert report.failed[0].row == 4 and report.deactivated == [] and state(services)["di"] is True


def test_the_api_and_the_cli_sync_with_a_dry_run(api: Api, tmp_path: Path) -> None:
    api.services.people.import_rows(rows(ORG))
    body = json.dumps(ORG[:3]).encode()
    dry = api.client.post(
        "/v1/people/import?sync=true&dry_run=true",
        headers=api.auth("admin"),
        files={"file": ("org.json", body)},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["deactivated"] == ["di"] and dry.json()["dry_run"] is True
    assert state(api.services)["di"] is True
    done = api.client.post(
        "/v1/people/import?sync=true", headers=api.auth("admin"), files={"file": ("org.json", body)}
    )
    assert done.json()["deactivated"] == ["di"] and state(api.services)["di"] is False
    listed = api.client.get("/v1/people?role=mentee", headers=api.auth("admin")).json()
    assert {p["key"]: p["active"] for p in listed} == {"cy": True, "di": False}


def test_cli_people_import_sync_dry_run(tmp_path: Path) -> None:
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COLUMNS": "200",
    }
    full, part = tmp_path / "full.json", tmp_path / "part.json"
    full.write_text(json.dumps(ORG))
    part.write_text(json.dumps([person("ana", "mentor", capacity=1, site="Leeds"), *ORG[1:3]]))
    assert runner.invoke(cli_app, ["people", "import", str(full)], env=env).exit_code == 0
    dry = runner.invoke(cli_app, ["people", "import", str(part), "--sync", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.stdout
    assert "~ update ana: site" in dry.stdout and "- deactivate di" in dry.stdout
    real = runner.invoke(cli_app, ["people", "import", str(part), "--sync"], env=env)
    assert "deactivated 1 (open proposals withdrawn: 0)" in real.stdout
    again = runner.invoke(cli_app, ["people", "import", str(part), "--sync", "--dry-run"], env=env)
    assert "deactivated 0" in again.stdout
