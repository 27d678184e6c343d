"""The admin program page (/admin/program: cycles, milestones, pairs with rhythm, at-risk list) and the
rhythm partial on the mentor's and mentee's pages. Forms post with CSRF, errors show in the page with
the typed input and change nothing, and only admins reach the admin page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from companion.identity.auth import authenticate, link_mentorship
from companion.program.schemas import CycleIn, PairIn, ProgramIn
from companion.storage.db import SessionRecord
from tests.support.app import Api, csrf_of, web_client

TODAY = date.today()
START = TODAY - timedelta(days=50)  # today is in week 8


def alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found, "page shows no error"
    return found.group(1)


def post(client: TestClient, path: str, data: dict[str, str]) -> object:
    csrf = csrf_of(client.get("/admin/program").text)
    return client.post(path, data={"csrf_token": csrf, **data})


def _pair(api: Api, sessions_ago: list[int]) -> int:
    with api.services.db.session() as session:
        ids = {role: authenticate(session, token).id for role, token in api.tokens.items()}
        mentorship = link_mentorship(session, mentor_user_id=ids["mentor"], mentee_user_id=ids["mentee"]).id
        for days in sessions_ago:
            session.add(
                SessionRecord(
                    mentee_user_id=ids["mentee"],
                    mentor_user_id=ids["mentor"],
                    held_on=TODAY - timedelta(days=days),
                    length_minutes=60,
                )
            )
    return mentorship


def test_admin_starts_a_cycle_edits_milestones_and_adds_a_pair(api: Api) -> None:
    admin = web_client(api, "admin")
    page = admin.get("/admin/program")
    assert page.status_code == 200
    assert '<a href="/admin/program" aria-current="page">' in page.text
    assert 'id="no-cycles"' in page.text and "Formal mentoring" in page.text  # the default program
    for control in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text):
        assert f'<label for="{control}"' in page.text, control
    program_id = api.services.programs.list_programs()[0].id

    made = post(
        admin, "/admin/program/cycles", {"program_id": str(program_id), "starts_on": START.isoformat()}
    )
    assert made.status_code == 303  # type: ignore[attr-defined]
    (cycle,) = api.services.programs.list_cycles()
    shown = admin.get(made.headers["location"]).text  # type: ignore[attr-defined]
    assert "Cycle created" in shown and "today is week 8" in shown
    assert "Goals agreed" in shown and "Mid-cycle check-in survey" in shown
    assert 'id="no-pairs"' in shown and 'id="no-options"' in shown

    goals = cycle.milestones[0]
    edited = post(
        admin,
        f"/admin/program/cycles/{cycle.id}/milestones/{goals.id}",
        {"title": "Goals signed off", "due_on": (START + timedelta(days=30)).isoformat(), "kind": "goals"},
    )
    assert edited.status_code == 303  # type: ignore[attr-defined]
    added = post(
        admin,
        f"/admin/program/cycles/{cycle.id}/milestones",
        {"title": "Show and tell", "due_on": (START + timedelta(days=70)).isoformat(), "kind": "checkpoint"},
    )
    assert added.status_code == 303  # type: ignore[attr-defined]
    milestones = api.services.programs.list_milestones(cycle.id)
    assert [m.title for m in milestones] == [
        "Goals signed off",
        "Show and tell",
        "Mid-cycle check-in survey",
        "End-of-cycle survey",
    ]
    deleted = post(admin, f"/admin/program/cycles/{cycle.id}/milestones/{milestones[1].id}/delete", {})
    assert deleted.status_code == 303  # type: ignore[attr-defined]
    assert len(api.services.programs.list_milestones(cycle.id)) == 3

    mentorship = _pair(api, sessions_ago=[45, 31])
    offered = admin.get(f"/admin/program?cycle={cycle.id}").text
    assert f'<option value="{mentorship}">mentor1 with mentee1</option>' in offered
    joined = post(admin, f"/admin/program/cycles/{cycle.id}/pairs", {"mentorship_id": str(mentorship)})
    assert joined.status_code == 303  # type: ignore[attr-defined]
    view = admin.get(f"/admin/program?cycle={cycle.id}").text
    row = re.search(rf'<tr id="pair-{mentorship}" data-status="(\w+)">(.*?)</tr>', view, re.S)
    assert row and row.group(1) == "at_risk"
    assert "2 (3)" in row.group(2) and "no session for 31 days" in row.group(2)
    assert (
        f'id="risk-{mentorship}"' in view and "mentor1 with mentee1</strong>: no session for 31 days" in view
    )
    removed = post(admin, f"/admin/program/cycles/{cycle.id}/pairs/{mentorship}/remove", {})
    assert removed.status_code == 303  # type: ignore[attr-defined]
    assert api.services.programs.list_pairs(cycle.id) == []


def test_form_errors_show_in_the_page_and_write_nothing(api: Api) -> None:
    admin = web_client(api, "admin")
    program_id = api.services.programs.ensure_default_program().id
    backwards = post(
        admin,
        "/admin/program/cycles",
        {"program_id": str(program_id), "name": "Oops", "starts_on": "2026-05-01", "ends_on": "2026-04-01"},
    )
    assert backwards.status_code == 422  # type: ignore[attr-defined]
    html = backwards.text  # type: ignore[attr-defined]
    assert "must end after it starts" in alert(html)
    assert 'value="Oops"' in html and 'value="2026-05-01"' in html  # the typed input is kept
    no_date = post(admin, "/admin/program/cycles", {"program_id": str(program_id), "starts_on": ""})
    assert no_date.status_code == 422 and "Start date" in alert(no_date.text)  # type: ignore[attr-defined]
    assert api.services.programs.list_cycles() == []

    cycle = api.services.programs.create_cycle(program_id, CycleIn(starts_on=START))
    late = post(
        admin,
        f"/admin/program/cycles/{cycle.id}/milestones",
        {"title": "Far away", "due_on": "2099-01-01", "kind": "checkpoint"},
    )
    assert late.status_code == 422 and "within the cycle" in alert(late.text)  # type: ignore[attr-defined]
    assert 'value="Far away"' in late.text  # type: ignore[attr-defined]
    nothing = post(admin, f"/admin/program/cycles/{cycle.id}/pairs", {"mentorship_id": ""})
    assert nothing.status_code == 422 and "choose a pair" in alert(nothing.text)  # type: ignore[attr-defined]
    missing = admin.get("/admin/program?cycle=9999")
    assert missing.status_code == 404 and "no cycle with id 9999" in missing.text
    assert len(api.services.programs.list_milestones(cycle.id)) == 3
    no_csrf = admin.post(
        "/admin/program/cycles", data={"program_id": str(program_id), "starts_on": "2030-01-01"}
    )
    assert no_csrf.status_code == 403
    assert len(api.services.programs.list_cycles()) == 1


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_only_admins_reach_the_program_page(api: Api, role: str) -> None:
    client = web_client(api, role)
    assert client.get("/admin/program").status_code == 403
    csrf = csrf_of(client.get("/mentee" if role == "mentee" else "/mentor").text)
    program_id = api.services.programs.ensure_default_program().id
    refused = client.post(
        "/admin/program/cycles",
        data={"csrf_token": csrf, "program_id": str(program_id), "starts_on": "2026-01-05"},
    )
    assert refused.status_code == 403
    assert api.services.programs.list_cycles() == []


def test_mentor_and_mentee_see_their_own_rhythm(api: Api) -> None:
    program_id = api.services.programs.ensure_default_program().id
    cycle = api.services.programs.create_cycle(program_id, CycleIn(starts_on=START))
    mentorship = _pair(api, sessions_ago=[45, 31])
    for role in ("mentee", "mentor"):  # not in a cycle yet: no rhythm section
        assert 'id="my-rhythm"' not in web_client(api, role).get(f"/{role}").text
    api.services.programs.add_pair(cycle.id, PairIn(mentorship_id=mentorship))
    for role, partner in (("mentee", "mentor1"), ("mentor", "mentee1")):
        html = web_client(api, role).get(f"/{role}").text
        card = re.search(r'<section id="my-rhythm".*?</section>', html, re.S)
        assert card, role
        text = card.group(0)
        assert "2 of 3 expected so far" in text
        assert (TODAY - timedelta(days=31)).isoformat() in text  # the last session
        assert "This pair is at risk:</strong> no session for 31 days" in text
        assert "Mid-cycle check-in survey" in text and "Goals agreed" not in text  # upcoming only
        assert (f"With {partner}" in text) == (role == "mentor")


def test_small_group_circles_are_warned_about_on_the_page(api: Api) -> None:
    admin = web_client(api, "admin")
    group = api.services.programs.create_program(ProgramIn(name="Circles", kind="group"))
    cycle = api.services.programs.create_cycle(group.id, CycleIn(starts_on=START))
    api.services.programs.add_pair(cycle.id, PairIn(mentorship_id=_pair(api, sessions_ago=[3])))
    html = admin.get(f"/admin/program?cycle={cycle.id}").text
    assert "group circles" in html
    assert "the circle of mentor1 has 1 mentee(s); a group circle needs at least 3" in html


def test_the_pairs_table_of_a_large_cycle_is_paged_and_the_at_risk_list_is_whole(api: Api) -> None:
    from companion.web.admin_program import PAIRS_PER_PAGE
    from tests.support.nudges import build_program

    world = build_program(api.services.db, pairs=PAIRS_PER_PAGE + 5, starts_on=START, emails=False)
    client = web_client(api, "admin")
    first = client.get(f"/admin/program?cycle={world.cycle}")
    assert first.status_code == 200
    rows = re.findall(r'<tr id="pair-(\d+)"', first.text.split('id="rhythm-table"')[1])
    assert len(rows) == PAIRS_PER_PAGE
    assert (
        f"Pairs 1-{PAIRS_PER_PAGE} of {PAIRS_PER_PAGE + 5}" in first.text and 'id="pairs-next"' in first.text
    )
    second = client.get(f"/admin/program?cycle={world.cycle}&page=2")
    rest = re.findall(r'<tr id="pair-(\d+)"', second.text.split('id="rhythm-table"')[1])
    assert len(rest) == 5 and not set(rest) & set(rows), "page 2 holds the other pairs"
    assert 'id="pairs-prev"' in second.text and 'id="pairs-next"' not in second.text
    # no session in 50 days: every pair is at risk, and the at-risk list above the table names them all
    at_risk = first.text.split('id="at-risk-title"')[1].split('id="pairs-title"')[0]
    assert len(re.findall(r'<li id="risk-\d+"', at_risk)) == PAIRS_PER_PAGE + 5
    beyond = client.get(f"/admin/program?cycle={world.cycle}&page=99")
    assert beyond.status_code == 200 and "(page 2 of 2)" in beyond.text, "a page past the end shows the last"
    assert client.get(f"/admin/program?cycle={world.cycle}&page=0").status_code == 422
