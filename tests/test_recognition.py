"""Mentor recognition: per-mentor sessions, hours, mentees, goals achieved and nominations (all cycles and
one cycle), nominations by mentees of their own mentor once per cycle, the admin page and CSV, the
mentee's nomination form, and `companion program recognition`."""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role, authenticate, create_user, link_mentorship
from companion.program.recognition import NominationIn, RecognitionService
from companion.storage.db import Cycle, CycleMentorship, GoalRecord, Program, SessionRecord
from tests.support.app import Api, csrf_of, make_settings, web_client


@dataclass
class World:
    api: Api
    mentee: Principal
    mentor: int
    mentor2: int
    mentee2: int
    cycle: int


@pytest.fixture
def world(api: Api) -> World:
    """mentor1 mentors mentee1 (in the current cycle) and mentee2 (no cycle); mentor2 mentors mentee2."""
    with api.services.db.session() as s:
        ids = {role: authenticate(s, token).id for role, token in api.tokens.items()}
        mentor2 = create_user(s, name="mentor2", role=Role.mentor)[0].id
        mentee2, api.tokens["mentee2"] = create_user(s, name="mentee2", role=Role.mentee)
        pair = link_mentorship(s, mentor_user_id=ids["mentor"], mentee_user_id=ids["mentee"])
        link_mentorship(s, mentor_user_id=ids["mentor"], mentee_user_id=mentee2.id)
        link_mentorship(s, mentor_user_id=mentor2, mentee_user_id=mentee2.id)
        program = Program(name="P")
        s.add(program)
        s.flush()
        today = date.today()
        cycle = Cycle(
            program_id=program.id,
            name="Spring",
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=100),
        )
        s.add(cycle)
        s.flush()
        s.add(CycleMentorship(cycle_id=cycle.id, mentorship_id=pair.id))
        mentee, mentor = ids["mentee"], ids["mentor"]
        in_cycle = today - timedelta(days=10)
        s.add_all(
            [
                SessionRecord(
                    mentee_user_id=mentee, mentor_user_id=mentor, held_on=in_cycle, length_minutes=60
                ),
                SessionRecord(
                    mentee_user_id=mentee, mentor_user_id=mentor, held_on=in_cycle, length_minutes=30
                ),
                # before the cycle: counts across cycles only
                SessionRecord(
                    mentee_user_id=mentee2.id,
                    mentor_user_id=mentor,
                    held_on=today - timedelta(days=200),
                    length_minutes=45,
                ),
                SessionRecord(
                    mentee_user_id=mentee2.id, mentor_user_id=mentor2, held_on=in_cycle, length_minutes=90
                ),
                GoalRecord(mentee_user_id=mentee, statement="in cycle", status="achieved", cycle_id=cycle.id),
                GoalRecord(mentee_user_id=mentee, statement="open", status="active", cycle_id=cycle.id),
                GoalRecord(mentee_user_id=mentee2.id, statement="no cycle", status="achieved"),
            ]
        )
        cycle_id = cycle.id
    return World(
        api, Principal(ids["mentee"], "mentee1", Role.mentee), ids["mentor"], mentor2, mentee2.id, cycle_id
    )


def _svc(world: World) -> RecognitionService:
    return world.api.services.recognition


def test_report_across_cycles_and_in_one(world: World) -> None:
    svc = _svc(world)
    svc.nominate(world.mentee, NominationIn(mentor_id=world.mentor, reason="Always prepared and kind."))
    report = svc.report()
    assert report.award_name == "Lantern Award" and report.cycle_id is None
    rows = {r.user_name: r for r in report.mentors}
    assert [r.user_name for r in report.mentors] == ["mentor1", "mentor2"]  # most hours first
    one, two = rows["mentor1"], rows["mentor2"]
    assert (one.sessions, one.hours, one.mentees, one.goals_achieved, one.nominations) == (3, 2.25, 2, 2, 1)
    assert one.reasons == ["Always prepared and kind."]
    assert (two.sessions, two.hours, two.mentees, two.goals_achieved, two.nominations) == (1, 1.5, 1, 1, 0)
    in_cycle = {r.user_name: r for r in svc.report(cycle_id=world.cycle).mentors}
    one = in_cycle["mentor1"]
    assert (one.sessions, one.hours, one.mentees, one.goals_achieved, one.nominations) == (2, 1.5, 1, 1, 1)
    assert in_cycle["mentor2"].mentees == 0 and in_cycle["mentor2"].sessions == 1  # held in the cycle's dates
    with pytest.raises(NotFound):
        svc.report(cycle_id=999)
    rows_csv = list(csv.reader(io.StringIO(svc.report_csv())))
    assert rows_csv[0] == ["mentor", "user", "sessions", "hours", "mentees", "goals_achieved", "nominations"]
    assert rows_csv[1] == ["mentor1", "mentor1", "3", "2.25", "2", "2", "1"]


def test_nominations_once_per_cycle_and_only_for_ones_own_mentor(world: World) -> None:
    svc = _svc(world)
    made = svc.nominate(world.mentee, NominationIn(mentor_id=world.mentor, reason="  Generous   with time. "))
    assert (
        made.cycle_id == world.cycle and made.cycle_name == "Spring" and made.reason == "Generous with time."
    )
    with pytest.raises(Conflict, match="in Spring"):
        svc.nominate(
            world.mentee, NominationIn(mentor_id=world.mentor, reason="Again, because they are great.")
        )
    with pytest.raises(NotFound, match="not one of your mentors"):
        svc.nominate(world.mentee, NominationIn(mentor_id=world.mentor2, reason="Never met, sounds nice."))
    with pytest.raises(Forbidden):
        svc.nominate(
            Principal(world.mentor, "mentor1", Role.mentor),
            NominationIn(mentor_id=world.mentor2, reason="Peers deserve it"),
        )
    with pytest.raises(InvalidInput):
        svc.nominate(world.mentee, NominationIn(mentor_id=world.mentor, reason="          x          "))
    # a pair outside any cycle nominates once too
    mentee2 = Principal(world.mentee2, "mentee2", Role.mentee)
    assert (
        svc.nominate(mentee2, NominationIn(mentor_id=world.mentor2, reason="Patient and clear.")).cycle_id
        is None
    )
    with pytest.raises(Conflict):
        svc.nominate(mentee2, NominationIn(mentor_id=world.mentor2, reason="Patient and clear again."))
    assert [n.mentor_name for n in svc.my_nominations(world.mentee)] == ["mentor1"]
    assert len(svc.my_nominations(Principal(1, "admin1", Role.admin))) == 2
    mentors = {m.name: m.nominated for m in svc.my_mentors(mentee2)}
    assert mentors == {"mentor1": False, "mentor2": True}


def test_api_nominations_and_report(world: World) -> None:
    client, auth = world.api.client, world.api.auth
    made = client.post(
        "/v1/nominations",
        headers=auth("mentee"),
        json={"mentor_id": world.mentor, "reason": "Always prepared and kind."},
    )
    assert made.status_code == 201, made.text
    again = client.post(
        "/v1/nominations",
        headers=auth("mentee"),
        json={"mentor_id": world.mentor, "reason": "Always prepared and kind."},
    )
    assert (
        again.status_code == 409 and "one nomination per mentor and cycle" in again.json()["error"]["message"]
    )
    short = client.post(
        "/v1/nominations", headers=auth("mentee"), json={"mentor_id": world.mentor, "reason": "ok"}
    )
    assert short.status_code == 422
    report = client.get("/v1/recognition", params={"cycle_id": world.cycle}, headers=auth("admin")).json()
    assert report["mentors"][0]["nominations"] == 1
    as_csv = client.get("/v1/recognition.csv", headers=auth("admin"))
    assert as_csv.headers["content-type"].startswith("text/csv") and as_csv.text.startswith("mentor,user,")
    assert client.get("/v1/recognition", headers=auth("mentor")).status_code == 403


def test_admin_page_and_the_mentee_form(world: World) -> None:
    mentee = web_client(world.api, "mentee")
    page = mentee.get("/mentee")
    assert 'id="nominate-form"' in page.text and "Lantern Award" in page.text
    token = csrf_of(page.text)
    refused = mentee.post(
        "/mentee/nominations", data={"csrf_token": token, "mentor_id": str(world.mentor), "reason": "meh"}
    )
    assert refused.status_code == 422 and "Why they deserve it" in html.unescape(refused.text)
    assert "meh" in refused.text  # typed text kept
    sent = mentee.post(
        "/mentee/nominations",
        data={"csrf_token": token, "mentor_id": str(world.mentor), "reason": "Kept our rhythm all cycle."},
    )
    assert sent.status_code == 303
    after = mentee.get(sent.headers["location"])
    assert f'id="nominated-{world.mentor}"' in after.text and 'id="nominate-form"' not in after.text
    admin = web_client(world.api, "admin")
    report = admin.get("/admin/recognition")
    assert report.status_code == 200 and "Kept our rhythm all cycle." in report.text
    assert 'id="table-recognition"' in report.text and '<svg class="chart"' in report.text
    picked = admin.get("/admin/recognition", params={"cycle_id": world.cycle})
    assert f'value="{world.cycle}" selected' in picked.text
    as_csv = admin.get("/admin/recognition", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[1].startswith("mentor1,mentor1,3,2.25,2,2,1")
    assert web_client(world.api, "mentor").get("/admin/recognition").status_code == 403


def test_cli_program_recognition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path)
    monkeypatch.setenv("COMPANION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COMPANION_EMBEDDINGS__MODE", "fake")
    services = Services(settings)
    services.db.create_tables()
    with services.db.session() as s:
        mentor = create_user(s, name="rosa", role=Role.mentor)[0].id
        mentee = create_user(s, name="sam", role=Role.mentee)[0].id
        link_mentorship(s, mentor_user_id=mentor, mentee_user_id=mentee)
        s.add(
            SessionRecord(
                mentee_user_id=mentee, mentor_user_id=mentor, held_on=date(2026, 1, 5), length_minutes=90
            )
        )
    services.close()
    runner = CliRunner()
    out = runner.invoke(cli_app, ["program", "recognition", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert [(m["user_name"], m["sessions"], m["hours"]) for m in body["mentors"]] == [("rosa", 1, 1.5)]
    as_csv = runner.invoke(cli_app, ["program", "recognition", "--csv"])
    assert as_csv.output.splitlines()[1] == "rosa,rosa,1,1.50,1,0,0"
    missing = runner.invoke(cli_app, ["program", "recognition", "--cycle", "7"])
    assert missing.exit_code == 1 and "no cycle with id 7" in missing.output
