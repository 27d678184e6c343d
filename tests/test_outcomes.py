"""Goal outcomes: status changes set closed_on and leave a progress row; progress notes by the mentee or
their mentor (never someone else's); new goals join the pair's current cycle; achieved goals are
celebrated on the mentee's and the mentor's pages; bad input is a clear 4xx and writes nothing."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from companion.identity.auth import Role, authenticate, create_user, link_mentorship
from companion.storage.db import Cycle, CycleMentorship, GoalProgress, GoalRecord, Mentorship, Program
from tests.support.app import Api, csrf_of, web_client


@dataclass
class World:
    api: Api
    mentee: int
    mentor: int
    other_mentee: int
    goal: int

    def call(self, method: str, path: str, role: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.api.client.request(method, path, headers=self.api.auth(role), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    with api.services.db.session() as session:
        ids = {role: authenticate(session, token).id for role, token in api.tokens.items()}
        other, api.tokens["mentee2"] = create_user(session, name="mentee2", role=Role.mentee)
        link_mentorship(session, mentor_user_id=ids["mentor"], mentee_user_id=ids["mentee"])
        other_id = other.id
    created = api.client.post(
        f"/v1/mentees/{ids['mentee']}/goals", headers=api.auth("mentee"), json=[{"statement": "Run a demo"}]
    )
    assert created.status_code == 201, created.text
    yield World(api, ids["mentee"], ids["mentor"], other_id, created.json()[0]["id"])


def _progress_rows(world: World) -> list[GoalProgress]:
    with world.api.services.db.session() as session:
        rows = list(session.scalars(select(GoalProgress).order_by(GoalProgress.id)))
        session.expunge_all()
        return rows


def test_achieving_a_goal_sets_closed_on_and_writes_a_progress_row(world: World) -> None:
    url = f"/v1/mentees/{world.mentee}/goals/{world.goal}/status"
    response = world.call("POST", url, "mentor", json={"status": "achieved", "note": "Demo went well"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "achieved"
    assert body["closed_on"] == date.today().isoformat()
    assert [(p["status"], p["note"], p["author_name"]) for p in body["progress"]] == [
        ("achieved", "Demo went well", "mentor1")
    ]
    # the same status again changes nothing and writes no second row
    again = world.call("POST", url, "mentee", json={"status": "achieved"})
    assert again.status_code == 200 and len(again.json()["progress"]) == 1
    # back to active clears the day
    reopened = world.call("POST", url, "mentee", json={"status": "active", "note": "Another demo due"})
    assert reopened.json()["closed_on"] is None
    assert [p.status for p in _progress_rows(world)] == ["achieved", "active"]
    listed = world.call("GET", f"/v1/mentees/{world.mentee}/goals", "mentee").json()
    assert listed[0]["status"] == "active" and listed[0]["closed_on"] is None


def test_status_with_a_given_day_and_refused_days(world: World) -> None:
    url = f"/v1/mentees/{world.mentee}/goals/{world.goal}/status"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = world.call("POST", url, "mentee", json={"status": "dropped", "on": tomorrow})
    assert future.status_code == 422 and "future" in future.json()["error"]["message"]
    before = world.call("POST", url, "mentee", json={"status": "dropped", "on": "2000-01-01"})
    assert before.status_code == 422 and "set on" in before.json()["error"]["message"]
    with_active = world.call("POST", url, "mentee", json={"status": "active", "on": date.today().isoformat()})
    assert with_active.status_code == 422
    bad = world.call("POST", url, "mentee", json={"status": "done"})
    assert bad.status_code == 422
    assert _progress_rows(world) == []  # nothing written by refused changes
    ok = world.call("POST", url, "mentee", json={"status": "dropped", "on": date.today().isoformat()})
    assert ok.json()["closed_on"] == date.today().isoformat()


def test_progress_notes_in_order_with_optional_status(world: World) -> None:
    url = f"/v1/mentees/{world.mentee}/goals/{world.goal}/progress"
    first = world.call("POST", url, "mentee", json={"note": "Drafted the outline"})
    assert first.status_code == 201 and first.json()["status"] is None
    second = world.call("POST", url, "mentor", json={"note": "Presented it", "status": "achieved"})
    assert second.json()["status"] == "achieved"
    blank = world.call("POST", url, "mentee", json={"note": "   "})
    assert blank.status_code == 422
    outcome = world.call("GET", f"/v1/mentees/{world.mentee}/goals/{world.goal}/outcome", "admin").json()
    assert [(p["note"], p["author_name"]) for p in outcome["progress"]] == [
        ("Drafted the outline", "mentee1"),
        ("Presented it", "mentor1"),
    ]
    assert outcome["status"] == "achieved"


def test_nobody_else_changes_or_reads_a_goal_outcome(world: World) -> None:
    url = f"/v1/mentees/{world.mentee}/goals/{world.goal}"
    for method, path, body in (
        ("POST", f"{url}/status", {"status": "achieved"}),
        ("POST", f"{url}/progress", {"note": "sneaky"}),
        ("GET", f"{url}/outcome", None),
    ):
        response = world.call(method, path, "mentee2", json=body)
        assert response.status_code == 403, (path, response.text)
    # another mentee's goal under one's own id is not found
    crossed = world.call(
        "POST",
        f"/v1/mentees/{world.other_mentee}/goals/{world.goal}/status",
        "admin",
        json={"status": "dropped"},
    )
    assert crossed.status_code == 404
    assert _progress_rows(world) == []


def test_a_goal_edit_that_changes_the_status_leaves_the_same_trail(world: World) -> None:
    url = f"/v1/mentees/{world.mentee}/goals/{world.goal}"
    edited = world.call("PUT", url, "mentee", json={"statement": "Run a demo", "status": "achieved"})
    assert edited.status_code == 200 and edited.json()["closed_on"] == date.today().isoformat()
    assert [p.status for p in _progress_rows(world)] == ["achieved"]


def test_new_goals_join_the_current_cycle_of_the_mentees_pair(world: World) -> None:
    today = date.today()
    with world.api.services.db.session() as session:
        program = Program(name="P")
        session.add(program)
        session.flush()
        past = Cycle(
            program_id=program.id,
            name="past",
            starts_on=today - timedelta(days=400),
            ends_on=today - timedelta(days=200),
        )
        now = Cycle(
            program_id=program.id,
            name="now",
            starts_on=today - timedelta(days=10),
            ends_on=today + timedelta(days=100),
        )
        session.add_all([past, now])
        session.flush()
        pair = session.scalar(select(Mentorship.id).where(Mentorship.mentee_user_id == world.mentee))
        session.add_all([CycleMentorship(cycle_id=c.id, mentorship_id=pair) for c in (past, now)])
        now_id = now.id
    made = world.call(
        "POST", f"/v1/mentees/{world.mentee}/goals", "mentee", json=[{"statement": "Lead a retro"}]
    )
    assert made.json()[0]["cycle_id"] == now_id
    # the mentee without a pair in a cycle gets no cycle
    alone = world.call(
        "POST", f"/v1/mentees/{world.other_mentee}/goals", "mentee2", json=[{"statement": "Learn SQL"}]
    )
    assert alone.json()[0]["cycle_id"] is None
    with world.api.services.db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(GoalRecord).where(GoalRecord.cycle_id == now_id))
            == 1
        )


def test_pages_show_progress_and_celebrate_an_achieved_goal_on_both_pages(world: World) -> None:
    mentee = web_client(world.api, "mentee")
    page = mentee.get("/mentee")
    token = csrf_of(page.text)
    assert 'id="achieved"' not in page.text
    noted = mentee.post(
        f"/mentee/goals/{world.goal}/progress", data={"csrf_token": token, "note": "Booked the room"}
    )
    assert noted.status_code == 303
    refused = mentee.post(f"/mentee/goals/{world.goal}/progress", data={"csrf_token": token, "note": ""})
    assert refused.status_code == 422 and "write a progress note" in html.unescape(refused.text)
    mentor = web_client(world.api, "mentor")
    mentor_page = mentor.get(f"/mentor/mentees/{world.mentee}")
    assert "Booked the room" in mentor_page.text
    done = mentor.post(
        f"/mentor/mentees/{world.mentee}/goals/{world.goal}/progress",
        data={
            "csrf_token": csrf_of(mentor_page.text),
            "note": "Presented to leadership",
            "status": "achieved",
        },
    )
    assert done.status_code == 303 and "#achieved" in done.headers["location"]
    today = date.today().isoformat()
    for client, path in (
        (mentee, "/mentee"),
        (mentor, f"/mentor/mentees/{world.mentee}"),
        (mentor, "/mentor"),
    ):
        text = client.get(path).text
        assert f'id="achieved-{world.goal}"' in text, path
        assert f'Achieved on <time datetime="{today}">' in text
        assert "Run a demo" in text
    # a mentor cannot post progress on someone else's mentee
    foreign = mentor.post(
        f"/mentor/mentees/{world.other_mentee}/goals/{world.goal}/progress",
        data={"csrf_token": csrf_of(mentor_page.text), "note": "x"},
    )
    assert foreign.status_code == 403
    # without the CSRF token nothing is written
    before = len(_progress_rows(world))
    assert mentee.post(f"/mentee/goals/{world.goal}/progress", data={"note": "no token"}).status_code == 403
    assert len(_progress_rows(world)) == before
