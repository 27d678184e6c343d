"""People: profiles, access rules, import with a per-row report, the demo organization, stored vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.identity.auth import link_mentorship
from companion.knowledge.embeddings import FakeEmbedder
from companion.matching.demo_org import demo_rows, generate_org, to_csv
from companion.matching.people import PeopleService
from companion.matching.profiles import ProfileVectors
from companion.storage.db import Person, ProfileVector
from tests.support.app import Api
from tests.support.people import MENTEE, MENTOR

CSV_WITH_BAD_ROWS = """\
id,name,email,role,department,manager,timezone,languages,skills,expertise,goals,capacity,notes
p1,Ada Lead,ada@x.example,mentor,Firmware,,Europe/London,english,embedded c; rtos,Led firmware teams.,,2,hi
p2,Bo Junior,bo@x.example,mentee,Firmware,p1,Europe/London,english,rtos,,Learn RTOS scheduling.,,
p3,Cy Broken,cy@x.example,mentee,Firmware,p1,Mars/Olympus,english,rtos,,Learn things.,,
p4,Di Nolang,di@x.example,mentee,Firmware,p1,Europe/London,,rtos,,Learn things.,,
p5,Ed Boss,ed@x.example,boss,Firmware,,Europe/London,english,rtos,Boss things.,,,
p2,Bo Again,bo2@x.example,mentee,Firmware,p1,Europe/London,english,rtos,,Duplicate key.,,
p6,Fay Full,fay@x.example,mentor,Firmware,p1,Europe/London,english,rtos,Firmware.,,9,
p7,Gus Nobody,gus@x.example,mentee,Firmware,zed,UTC+05:30,english,rtos,,Learn RTOS.,,
,No Key,,mentee,Firmware,,Europe/London,english,rtos,,Learn.,,
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- import ----------------------------------------------------------------------------------------------


def test_csv_import_reports_bad_rows_and_keeps_good_ones(services: Services, tmp_path: Path) -> None:
    report = services.people.import_file(write(tmp_path / "people.csv", CSV_WITH_BAD_ROWS))
    assert report.created == ["p1", "p2", "p7"]
    failed = {f.row: f for f in report.failed}
    assert set(failed) == {4, 5, 6, 7, 8, 10}
    assert "unknown time zone 'Mars/Olympus'" in failed[4].reason and failed[4].key is None
    assert "languages" in failed[5].reason
    assert "role" in failed[6].reason
    assert "duplicate key 'p2'" in failed[7].reason and "row 3" in failed[7].reason
    assert "capacity 9 is above the program's limit of 3" in failed[8].reason and failed[8].key == "p6"
    assert "needs a key" in failed[10].reason
    assert report.ignored_columns == ["notes"]
    assert [(w.key, "manager 'zed'" in w.reason) for w in report.warnings] == [("p7", True)]
    assert report.embedded == 3

    people = {p.key: p for p in services.people.list_people()}
    assert people["p2"].manager == "p1" and people["p2"].languages == ["english"]
    assert people["p1"].skills == ["embedded c", "rtos"] and people["p1"].capacity == 2
    assert people["p7"].timezone == "UTC+05:30"

    again = services.people.import_file(tmp_path / "people.csv")
    assert again.created == [] and again.updated == [] and sorted(again.unchanged) == ["p1", "p2", "p7"]
    assert again.embedded == 0
    assert len(services.people.list_people()) == 3


def test_json_import_upserts_by_email_and_updates_changes(services: Services, tmp_path: Path) -> None:
    rows: list[Any] = [dict(MENTOR), dict(MENTEE), "not an object"]
    first = services.people.import_file(write(tmp_path / "people.json", json.dumps(rows)))
    assert first.created == [MENTOR["email"], MENTEE["email"]]
    assert [(f.row, f.reason) for f in first.failed] == [(3, "a row must be an object with column names")]

    rows[0]["expertise"] = "I have written embedded C and Rust for sensors."
    rows[1]["bio"] = "Joined last year."
    second = services.people.import_file(write(tmp_path / "people.json", json.dumps({"people": rows[:2]})))
    assert second.updated == [MENTOR["email"], MENTEE["email"]] and second.created == []
    assert second.embedded == 1, "only the text that is embedded changed for the mentor; a bio is not"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("people.txt", b"x", "use a .csv or .json file"),
        ("people.json", b"{not json", "not valid JSON"),
        ("people.json", b'{"a": 1}', "expected a JSON list"),
        ("people.csv", b"\xff\xfe\x00bad", "not UTF-8"),
        ("people.csv", b"", "no header row"),
    ],
)
def test_unreadable_import_files_are_refused(
    services: Services, name: str, data: bytes, message: str
) -> None:
    from companion.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        services.people.import_bytes(data, name)


def test_profile_vectors_are_recomputed_only_when_the_text_changes(services: Services) -> None:
    class Counting(FakeEmbedder):
        texts = 0

        def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
            Counting.texts += len(texts)
            return super().encode(texts, batch_size=batch_size)

    people = PeopleService(
        db=services.db, vectors=ProfileVectors(embedder=Counting(64)), settings=services.settings.matching
    )
    report = people.import_rows(list(enumerate(demo_rows(3, 40), start=1)))
    assert report.embedded == 40 and Counting.texts > 40  # profile texts plus their phrases
    before = Counting.texts
    assert people.import_rows(list(enumerate(demo_rows(3, 40), start=1))).embedded == 0
    assert Counting.texts == before
    with services.db.session() as session:
        stored = session.scalars(select(ProfileVector)).all()
        assert len(stored) == 40 and all(len(v.vector) == 64 * 4 for v in stored)


# ---- demo organization -----------------------------------------------------------------------------------


def test_demo_org_is_seeded_and_has_a_sound_hierarchy() -> None:
    rows = demo_rows(7, 300)
    assert rows == demo_rows(7, 300)
    assert rows != demo_rows(8, 300)
    assert len(rows) == 300 and len({r["email"] for r in rows}) == 300
    by_key = {r["email"]: r for r in rows}
    roots = [r for r in rows if r["manager"] is None]
    assert len(roots) == 1 and roots[0]["seniority"] == "executive"
    for row in rows:
        seen = set()
        current: str | None = row["email"]
        while current is not None:
            assert current not in seen, "the reporting lines have no cycles"
            seen.add(current)
            current = by_key[current]["manager"]
    roles = [r["role"] for r in rows]
    assert 0.25 < roles.count("mentor") / 300 < 0.5
    assert {r["site"] for r in rows} >= {"Leeds", "Lisbon", "Montreal", "Bangalore"}
    assert len({r["department"] for r in rows}) >= 10
    assert any(r["languages"] == ["french"] for r in rows), "some people share no language with others"
    mentee = next(r for r in rows if r["role"] == "mentee")
    assert mentee["goals"] and mentee["skills"] and "expertise" not in mentee
    assert to_csv(rows).count("\n") == 301
    assert len(generate_org(1, 20)) == 20


def test_demo_rows_import_cleanly(services: Services) -> None:
    report = services.people.load_demo(seed=7, size=120)
    assert len(report.created) == 120 and report.failed == [] and report.warnings == []
    assert services.people.load_demo(seed=7, size=120).unchanged == report.created


# ---- HTTP routes -----------------------------------------------------------------------------------------


def create(api: Api, body: dict[str, Any], role: str = "admin"):  # type: ignore[no-untyped-def]
    return api.client.post("/v1/people", headers=api.auth(role), json=body)


def test_admin_creates_and_people_read_and_edit_their_own(api: Api) -> None:
    mentee = create(api, {**MENTEE, "user": "mentee1"})
    assert mentee.status_code == 201, mentee.text
    body = mentee.json()
    assert body["user"] == "mentee1" and body["languages"] == ["english", "portuguese"]
    assert create(api, {**MENTEE, "name": "Again"}).status_code == 409

    me = api.client.get("/v1/people/me", headers=api.auth("mentee"))
    assert me.status_code == 200 and me.json()["key"] == MENTEE["email"]
    assert api.client.get("/v1/people/me", headers=api.auth("mentor")).status_code == 404

    pid = body["id"]
    edited = api.client.patch(
        f"/v1/people/{pid}",
        headers=api.auth("mentee"),
        json={"goals": "I want to lead an incident review.", "preferences": {"department": "different"}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["goals"] == "I want to lead an incident review."
    locked = api.client.patch(f"/v1/people/{pid}", headers=api.auth("mentee"), json={"department": "Sales"})
    assert locked.status_code == 403 and "department" in locked.json()["error"]["message"]

    mentor = create(api, {**MENTOR, "user": "mentor1"}).json()
    fewer = api.client.patch(f"/v1/people/{mentor['id']}", headers=api.auth("mentor"), json={"capacity": 1})
    assert fewer.status_code == 200 and fewer.json()["capacity"] == 1
    third = api.client.patch(f"/v1/people/{mentor['id']}", headers=api.auth("mentor"), json={"capacity": 3})
    assert third.status_code == 403 and "program admin's approval" in third.json()["error"]["message"]
    approved = api.client.patch(f"/v1/people/{mentor['id']}", headers=api.auth("admin"), json={"capacity": 3})
    assert approved.json()["capacity"] == 3


def test_role_checks_on_people_routes(api: Api) -> None:
    mentor = create(api, {**MENTOR, "user": "mentor1"}).json()
    mentee = create(
        api, {**MENTEE, "user": "mentee1", "preferences": {"avoid": ["someone@x.example"]}}
    ).json()
    other = create(api, {**MENTEE, "email": "other@larkfield.example", "name": "Other"}).json()
    for role in ("mentee", "mentor"):
        assert api.client.get("/v1/people", headers=api.auth(role)).status_code == 403
        assert create(api, MENTOR | {"email": "z@x.example"}, role).status_code == 403
        assert api.client.delete(f"/v1/people/{other['id']}", headers=api.auth(role)).status_code == 403
        response = api.client.patch(
            f"/v1/people/{other['id']}", headers=api.auth(role), json={"goals": "Mine now."}
        )
        assert response.status_code == 403
        assert api.client.get(f"/v1/people/{other['id']}", headers=api.auth(role)).status_code == 403
    assert api.client.get(f"/v1/people/{mentee['id']}", headers=api.auth("mentor")).status_code == 403
    with api.services.db.session() as session:
        ids = {p.key: p.user_id for p in session.scalars(select(Person))}
        link_mentorship(session, mentor_user_id=ids[MENTOR["email"]], mentee_user_id=ids[MENTEE["email"]])
    seen = api.client.get(f"/v1/people/{mentee['id']}", headers=api.auth("mentor"))
    assert seen.status_code == 200 and seen.json()["preferences"]["avoid"] == [], "avoid stays private"
    own = api.client.get(f"/v1/people/{mentee['id']}", headers=api.auth("mentee"))
    assert own.json()["preferences"]["avoid"] == ["someone@x.example"]
    assert api.client.get(f"/v1/people/{mentor['id']}", headers=api.auth("mentor")).status_code == 200
    listed = api.client.get("/v1/people?role=mentee", headers=api.auth("admin")).json()
    assert [p["name"] for p in listed] == ["Sam Mentee", "Other"]
    gone = api.client.delete(f"/v1/people/{other['id']}", headers=api.auth("admin"))
    assert gone.status_code == 200
    assert api.client.get(f"/v1/people/{other['id']}", headers=api.auth("admin")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**MENTOR, "timezone": "Moon/Base"}, "unknown time zone"),
        ({**MENTOR, "role": "boss"}, "role"),
        ({**MENTOR, "languages": []}, "at least one language"),
        ({**MENTOR, "capacity": 7}, "capacity 7 is above"),
        ({**MENTOR, "capacity": -1}, "capacity"),
        ({**MENTOR, "expertise": None, "skills": []}, "a mentor needs expertise or skills"),
        ({**MENTOR, "user": "nobody"}, "no user named 'nobody'"),
        ({**MENTOR, "user": "mentee1"}, "has role mentee"),
        ({**MENTOR, "email": "not-an-email"}, "not an email"),
        ({**MENTOR, "manager": MENTOR["email"]}, "own manager"),
        ({**MENTOR, "preferences": {"avoid": ["a", "b", "c", "d"]}}, "avoid"),
        ({**MENTOR, "shoe_size": 44}, "shoe_size"),
    ],
)
def test_bad_profiles_get_clear_4xx_errors(api: Api, body: dict[str, Any], field: str) -> None:
    response = create(api, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and field in error["message"]


def test_import_route_for_admins_only(api: Api) -> None:
    files = {"file": ("people.csv", CSV_WITH_BAD_ROWS.encode(), "text/csv")}
    assert api.client.post("/v1/people/import", headers=api.auth("mentor"), files=files).status_code == 403
    response = api.client.post("/v1/people/import", headers=api.auth("admin"), files=files)
    assert response.status_code == 200
    report = response.json()
    assert report["created"] == ["p1", "p2", "p7"] and len(report["failed"]) == 6
    bad = api.client.post(
        "/v1/people/import", headers=api.auth("admin"), files={"file": ("x.xml", b"<a/>", "text/xml")}
    )
    assert bad.status_code == 422 and "use a .csv or .json file" in bad.json()["error"]["message"]


# ---- command line ----------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COLUMNS": "200",
    }


def test_cli_people_import_demo_list(env: dict[str, str], tmp_path: Path) -> None:
    imported = runner.invoke(
        cli_app, ["people", "import", str(write(tmp_path / "p.csv", CSV_WITH_BAD_ROWS))], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "created 3, updated 0, unchanged 0, failed 6" in imported.stdout
    assert "skipped row 4 (no key): timezone: unknown time zone 'Mars/Olympus'" in imported.stdout
    missing = runner.invoke(cli_app, ["people", "import", str(tmp_path / "nope.csv")], env=env)
    assert missing.exit_code == 1 and "no such file" in missing.stderr

    out = tmp_path / "org.json"
    wrote = runner.invoke(
        cli_app, ["people", "demo", "--seed", "3", "--size", "40", "--out", str(out)], env=env
    )
    assert wrote.exit_code == 0 and len(json.loads(out.read_text())) == 40
    loaded = runner.invoke(cli_app, ["people", "demo", "--seed", "3", "--size", "40"], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert "created 40" in loaded.stdout and "mentors and" in loaded.stdout
    listed = runner.invoke(cli_app, ["people", "list", "--role", "mentor", "--limit", "3"], env=env)
    assert listed.exit_code == 0 and listed.stdout.count("mentor") >= 3
