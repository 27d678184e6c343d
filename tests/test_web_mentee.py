"""Mentee pages: my goals (draft, save, edit, delete), session prep, mentors for me, and who may do what.

The fake model is fed scripted replies (or none, which gives the grounded fallback); embeddings are fake.
Forms are submitted with the fields the page itself renders, as a browser would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.identity.auth import Principal, Role, authenticate, create_user
from companion.matching.schemas import CohortRequest, PairRef
from companion.records.service import GoalIn, GoalOut, SessionIn
from tests.support.app import Api, csrf_of, make_api, web_client
from tests.support.assistant import agenda, build, good_goals
from tests.support.people import link, load_team

PAGES = ("/mentee", "/mentee/prepare", "/mentee/mentors")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on the scripted fake model (no replies yet) with the small test guides ingested."""
    yield from make_api(build(tmp_path, []))


def script(api: Api, *replies: object) -> None:
    api.services.llm.replies.extend(json.dumps(r) for r in replies)  # type: ignore[attr-defined]


def principal(api: Api, role: str = "mentee") -> Principal:
    with api.services.db.session() as session:
        return authenticate(session, api.tokens[role])


class _Forms(HTMLParser):
    """The fields of one form, as a browser would submit them (checked boxes, selected options)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a["value"]))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_of(html: str, form_id: str) -> dict[str, list[str]]:
    parser = _Forms(form_id)
    parser.feed(html)
    assert parser.fields, f"no form {form_id!r} on the page"
    fields: dict[str, list[str]] = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    return fields


def goals_of(api: Api) -> list[GoalOut]:
    me = principal(api)
    return list(api.services.records.list_goals(me, me.id))


# ---- pages and roles --------------------------------------------------------------------------------


def test_each_page_renders_for_a_mentee_with_its_forms(api: Api) -> None:
    client = web_client(api, "mentee")
    goals = client.get("/mentee")
    assert goals.status_code == 200 and "<h1>My goals</h1>" in goals.text
    for element in ('id="draft-form"', 'id="add-goal-form"', 'id="no-goals"', 'aria-current="page"'):
        assert element in goals.text
    for label in ("draft-aspiration", "draft-context", "draft-count", "add-statement", "add-date"):
        assert f'<label for="{label}">' in goals.text or f'<label for="{label}"' in goals.text
    assert goals.text.count('aria-current="page"') == 1
    prepare = client.get("/mentee/prepare")
    assert prepare.status_code == 200 and 'id="prep-form"' in prepare.text
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', prepare.text) == ["/mentee/prepare"]
    assert "No sessions recorded yet" in prepare.text and "You have no active goals yet" in prepare.text
    mentors = client.get("/mentee/mentors")
    assert mentors.status_code == 200 and 'id="no-profile"' in mentors.text
    assert "link it" in mentors.text and "<strong>mentee1</strong>" in mentors.text
    assert 'id="no-matches"' in mentors.text


def test_mentors_and_admins_get_403_and_strangers_are_sent_to_sign_in(api: Api) -> None:
    for role in ("mentor", "admin"):
        client = web_client(api, role)
        for page in PAGES:
            response = client.get(page)
            assert response.status_code == 403, (role, page)
            assert "this page is for mentees" in response.text
    anonymous = TestClient(api.client.app, follow_redirects=False)
    for page in PAGES:
        response = anonymous.get(page)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")


def test_mentor_cannot_post_mentee_forms_even_with_a_valid_token(api: Api) -> None:
    mentor = web_client(api, "mentor")
    token = csrf_of(mentor.get("/mentee").text)  # the 403 page carries the layout's sign-out token
    response = mentor.post("/mentee/goals", data={"csrf_token": token, "statement": "A goal of mine"})
    assert response.status_code == 403
    assert goals_of(api) == []


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(api: Api) -> None:
    client = web_client(api, "mentee")
    me = principal(api)
    goal = api.services.records.add_goals(me, me.id, [GoalIn(statement="Keep this goal as it is")])[0]
    posts = [
        ("/mentee/goals", {"statement": "Sneaky goal"}),
        ("/mentee/goals/draft", {"aspiration": "public speaking"}),
        ("/mentee/goals/save", {"draft_count": "1", "pick": "0", "statement-0": "Sneaky draft goal"}),
        (f"/mentee/goals/{goal.id}/edit", {"statement": "Changed by someone else"}),
        (f"/mentee/goals/{goal.id}/delete", {}),
        ("/mentee/prepare", {"length_minutes": "30"}),
        ("/mentee/mentors/matches/1/accept", {}),
    ]
    for path, data in posts:
        for extra in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data={**data, **extra})
            assert response.status_code == 403, (path, response.text)
            assert "reload the page" in response.text
    assert [g.statement for g in goals_of(api)] == ["Keep this goal as it is"]
    assert api.services.llm.calls == []  # type: ignore[attr-defined]


# ---- my goals ---------------------------------------------------------------------------------------


def test_draft_save_edit_delete_path_persists(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee").text)
    script(api, good_goals(2))
    drafted = client.post(
        "/mentee/goals/draft",
        data={"csrf_token": token, "aspiration": "get better at public speaking", "max_goals": "2"},
    )
    assert drafted.status_code == 200, drafted.text
    assert 'id="drafts"' in drafted.text and "Fallback draft" not in drafted.text
    assert "drafted 2 goal(s)" in drafted.text
    assert "/guides/view?source=goals.md&amp;chunk=" in drafted.text, "citations open the guide viewer"
    prompt = api.services.llm.calls[0][1][1].content  # type: ignore[attr-defined]
    assert "public speaking" in prompt

    # keep draft 1 with an edited measure, untick draft 2
    form = form_of(drafted.text, "save-drafts-form")
    assert form["pick"] == ["0", "1"] and form["draft_count"] == ["2"]
    form["pick"] = ["0"]
    form["measure-0"] = ["3 talks given, each with written feedback"]
    cited = json.loads(form["citations-0"][0])
    saved = client.post("/mentee/goals/save", data=form)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/mentee?done=saved")
    goals = goals_of(api)
    assert len(goals) == 1
    goal = goals[0]
    assert goal.statement == good_goals(2)["goals"][0]["statement"]  # type: ignore[index]
    assert goal.measure == "3 talks given, each with written feedback"
    assert goal.target_date == date.today() + timedelta(weeks=8) and goal.status == "active"
    assert goal.first_steps == ["Pick the first presentation topic", "Book a slot in the team meeting"]
    assert [c.chunk_id for c in goal.citations] == [c["chunk_id"] for c in cited] and cited

    page = client.get(saved.headers["location"])
    assert "Saved the selected goals." in page.text and f'id="goal-{goal.id}"' in page.text
    assert f"chunk={goal.citations[0].chunk_id}" in page.text

    # edit: the form as rendered, with a new statement and status; citations are kept
    form = form_of(page.text, f"goal-edit-{goal.id}")
    assert form["status"] == ["active"] and form["statement"] == [goal.statement]
    form.update(
        statement=["Give 3 talks on public speaking to my team"], status=["achieved"], target_date=[""]
    )
    edited = client.post(f"/mentee/goals/{goal.id}/edit", data=form)
    assert edited.status_code == 303 and edited.headers["location"] == f"/mentee?done=updated#goal-{goal.id}"
    after = goals_of(api)[0]
    assert after.statement == "Give 3 talks on public speaking to my team" and after.status == "achieved"
    assert after.target_date is None and after.citations == goal.citations
    assert after.first_steps == goal.first_steps
    assert "Status: achieved" in client.get("/mentee").text

    # delete, with a confirmation prompt on the button
    html = client.get("/mentee").text
    assert f'id="goal-delete-{goal.id}"' in html and "data-confirm=" in html
    deleted = client.post(f"/mentee/goals/{goal.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and goals_of(api) == []
    assert "Goal deleted." in client.get(deleted.headers["location"]).text
    again = client.post(f"/mentee/goals/{goal.id}/delete", data={"csrf_token": token})
    assert again.status_code == 404 and f"has no goal {goal.id}" in again.text


def test_fallback_drafts_are_flagged_and_can_be_saved(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee").text)
    drafted = client.post(
        "/mentee/goals/draft", data={"csrf_token": token, "aspiration": "run better retrospectives"}
    )
    assert drafted.status_code == 200
    assert 'class="flag">Grounded draft' in drafted.text
    assert "Try the model anyway" in drafted.text and 'name="polish" value="1"' in drafted.text
    assert 'name="aspiration" value="run better retrospectives"' in drafted.text, "the retry keeps the input"
    form = form_of(drafted.text, "save-drafts-form")
    assert form["origin"] == ["grounded"]
    saved = client.post("/mentee/goals/save", data=form)
    assert saved.status_code == 303
    assert len(goals_of(api)) == int(form["draft_count"][0]) >= 1


def test_add_a_goal_by_hand(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee").text)
    target = (date.today() + timedelta(days=30)).isoformat()
    data = {
        "csrf_token": token,
        "statement": "Read two books on system design",
        "measure": "2 books read",
        "target_date": target,
        "first_steps": "Pick the first book\n\n  Block an hour on Fridays  \n",
    }
    added = client.post("/mentee/goals", data=data)
    assert added.status_code == 303 and added.headers["location"].startswith("/mentee?done=added")
    (goal,) = goals_of(api)
    assert goal.statement == "Read two books on system design" and goal.target_date == date.fromisoformat(
        target
    )
    assert goal.first_steps == ["Pick the first book", "Block an hour on Fridays"] and goal.citations == []


def test_bad_input_is_422_with_a_message_and_the_typed_input_kept(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee").text)

    def post(path: str, **data: str) -> str:
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 422, (path, data, response.text)
        assert 'role="alert"' in response.text
        return unescape(response.text)

    page = post("/mentee/goals/draft", aspiration="x", context="my typed context")
    assert "What you want to achieve: string should have at least 3 characters" in page
    assert "my typed context</textarea>" in page
    page = post("/mentee/goals/draft", aspiration="public speaking", max_goals="9")
    assert "Number of goals must be a whole number from 1 to 5" in page
    assert api.services.llm.calls == []  # type: ignore[attr-defined]

    page = post("/mentee/goals", statement="ok", measure="my typed measure")
    assert "Goal: string should have at least 3 characters" in page and 'value="my typed measure"' in page
    page = post("/mentee/goals", statement="A fine goal statement", target_date="31/12/2026")
    assert "Target date: use a date like" in page and "A fine goal statement</textarea>" in page
    page = post(
        "/mentee/goals", statement="A fine goal statement", first_steps="\n".join("step" for _ in range(11))
    )
    assert "at most 10" in page

    drafts = {"draft_count": "1", "statement-0": "Typed draft goal text", "citations-0": "[]"}
    page = post("/mentee/goals/save", **drafts)
    assert "tick at least one draft goal" in page and "Typed draft goal text</textarea>" in page
    page = post("/mentee/goals/save", **{**drafts, "pick": "0", "citations-0": '[{"n": "x"}]'})
    assert "Draft 1: its guide citations were damaged" in page
    page = post("/mentee/goals/save", **{**drafts, "pick": "0", "statement-0": "no"})
    assert "Draft 1: Goal: string should have at least 3 characters" in page
    assert 'id="draft-pick-0" name="pick" value="0" checked' in page, "the tick is kept"

    me = principal(api)
    goal = api.services.records.add_goals(me, me.id, [GoalIn(statement="An existing goal here")])[0]
    page = post(f"/mentee/goals/{goal.id}/edit", statement="", measure="edited measure", status="active")
    assert "Goal: string should have at least 3 characters" in page
    assert "<details open>" in page and 'value="edited measure"' in page
    page = post(f"/mentee/goals/{goal.id}/edit", statement="Still a fine goal", status="finished")
    assert "Status: choose one of active, achieved, dropped" in page
    assert [g.statement for g in goals_of(api)] == ["An existing goal here"]

    page = post("/mentee/prepare", length_minutes="5", focus="my typed focus")
    assert "Session length (minutes) must be a whole number from 15 to 180" in page
    assert 'value="my typed focus"' in page and 'value="5"' in page
    page = post("/mentee/prepare", length_minutes="sixty")
    assert "whole number" in page
    assert api.services.llm.calls == []  # type: ignore[attr-defined]


def test_bad_path_ids_are_explained_not_500(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee").text)
    for path in (
        "/mentee/goals/abc/edit",
        f"/mentee/goals/{2**40}/delete",
        "/mentee/mentors/matches/0/accept",
    ):
        response = client.post(path, data={"csrf_token": token, "statement": "A fine goal"})
        assert response.status_code == 422, path
        assert "please check the form" in response.text


def test_another_mentees_goal_cannot_be_edited_or_deleted(api: Api) -> None:
    with api.services.db.session() as session:
        other, _ = create_user(session, name="mentee2", role=Role.mentee)
        other_id = other.id
    theirs = api.services.records.add_goals(
        Principal(other_id, "mentee2", Role.mentee), other_id, [GoalIn(statement="Their private goal")]
    )[0]
    client = web_client(api, "mentee")
    page = client.get("/mentee")
    assert "Their private goal" not in page.text
    token = csrf_of(page.text)
    edit = client.post(
        f"/mentee/goals/{theirs.id}/edit",
        data={"csrf_token": token, "statement": "Taken over", "status": "achieved"},
    )
    assert edit.status_code == 404 and f"you have no goal {theirs.id}" in edit.text
    delete = client.post(f"/mentee/goals/{theirs.id}/delete", data={"csrf_token": token})
    assert delete.status_code == 404
    admin = Principal(1, "admin", Role.admin)
    (kept,) = api.services.records.list_goals(admin, other_id)
    assert kept.statement == "Their private goal" and kept.status == "active"


# ---- prepare my next session -------------------------------------------------------------------------


def test_prepare_shows_timed_agenda_questions_and_past_sessions(api: Api) -> None:
    me = principal(api)
    api.services.records.add_goals(me, me.id, [GoalIn(statement="Ship the onboarding demo")])
    for days, notes in ((10, "Old notes"), (3, "Agreed to draft the demo outline")):
        api.services.records.add_session(
            me,
            SessionIn(
                mentee_id=me.id, held_on=date.today() - timedelta(days=days), length_minutes=45, notes=notes
            ),
        )
    client = web_client(api, "mentee")
    page = client.get("/mentee/prepare")
    assert "your 1 active goal" in page.text
    assert page.text.index("Agreed to draft the demo outline") < page.text.index("Old notes"), "newest first"
    assert '<th scope="row">' + (date.today() - timedelta(days=3)).isoformat() in page.text

    script(api, agenda([10, 20, 30]))
    prepared = client.post(
        "/mentee/prepare",
        data={"csrf_token": csrf_of(page.text), "length_minutes": "60", "focus": "Asking for a promotion"},
    )
    assert prepared.status_code == 200, prepared.text
    html = unescape(prepared.text)
    prompt = api.services.llm.calls[0][1][1].content  # type: ignore[attr-defined]
    assert "Asking for a promotion" in prompt and "Ship the onboarding demo" in prompt
    assert "Agreed to draft the demo outline" in prompt
    minutes = [int(m) for m in re.findall(r'<span class="minutes">(\d+) min</span>', html)]
    assert minutes == [10, 20, 30] and "Total: 60 minutes" in html
    assert "Discuss part 1 of the plan" in html and "/guides/view?source=" in html
    assert "What blocked me this week?" in html and 'id="questions"' in html
    assert "Built from 2 goals and the notes of your last session" in html
    assert 'value="Asking for a promotion"' in html and "Fallback" not in html


def test_prepare_without_a_model_reply_is_a_flagged_fallback(api: Api) -> None:
    client = web_client(api, "mentee")
    token = csrf_of(client.get("/mentee/prepare").text)
    prepared = client.post("/mentee/prepare", data={"csrf_token": token, "length_minutes": "30"})
    assert prepared.status_code == 200
    html = unescape(prepared.text)
    assert 'class="flag">Grounded draft' in html and "Total: 30 minutes" in html
    assert "no session notes (none recorded yet)" in html


# ---- mentors for me ----------------------------------------------------------------------------------


@pytest.fixture
def team(api: Api) -> dict[str, int]:
    ids = load_team(api.services)
    link(api.services, "mia", "mentee1")
    link(api.services, "okay", "mentor1")
    return ids


def test_recommendations_show_reasons_breakdown_and_left_out_mentors(api: Api, team: dict[str, int]) -> None:
    client = web_client(api, "mentee")
    page = client.get("/mentee/mentors")
    assert page.status_code == 200 and 'id="no-profile"' not in page.text
    html = unescape(page.text)
    expected = api.services.matching.recommend(team["mia"], k=5, principal=None)
    names = re.findall(r'<li class="card" id="rec-\d+">\s*<h3>([^<]+)</h3>', html)
    assert names == [r.mentor.name for r in expected.results] == ["Good", "Okay", "Other"]
    top = expected.results[0]
    assert top.reason in html and f"Score {top.score:.2f}" in html
    assert (
        f"<td>{top.breakdown.similarity:.2f}</td>" in html
        and "skills you want that they offer: rtos, embedded c" in html
    )
    assert "3 of 10 mentors meet every matching rule" in html
    assert "They are in your reporting line</th><td>3</td>" in html
    assert "They share no language with you</th><td>1</td>" in html
    assert "were declined" not in html, "rules that exclude nobody are not listed"


def test_mentee_accepts_and_declines_proposed_matches(api: Api, team: dict[str, int]) -> None:
    services = api.services
    pin = PairRef(mentee="mia", mentor="okay")
    report = services.matching.cohort(CohortRequest(mentees=["mia", "ned"], pins=[pin]))
    mine = next(m for m in report.matches if m.mentee.key == "mia")
    ned = next(m for m in report.matches if m.mentee.key == "ned")
    client = web_client(api, "mentee")
    page = client.get("/mentee/mentors")
    assert f'id="match-accept-{mine.id}"' in page.text and f'id="match-decline-{mine.id}"' in page.text
    assert f'id="match-{ned.id}"' not in page.text, "only my own matches are listed"
    token = csrf_of(page.text)

    # someone else's match: refused, shown in the page
    theirs = client.post(f"/mentee/mentors/matches/{ned.id}/accept", data={"csrf_token": token})
    assert theirs.status_code == 403 and "only the mentor, the mentee or an admin" in theirs.text
    assert 'id="recommendations"' in theirs.text

    accepted = client.post(f"/mentee/mentors/matches/{mine.id}/accept", data={"csrf_token": token})
    assert (
        accepted.status_code == 303
        and accepted.headers["location"] == "/mentee/mentors?done=accepted#matches"
    )
    after = client.get(accepted.headers["location"]).text
    assert "It is confirmed once the mentor accepts too" in after and "you accepted" in after
    assert f'id="match-accept-{mine.id}"' not in after and f'id="match-decline-{mine.id}"' in after

    declined = client.post(f"/mentee/mentors/matches/{mine.id}/decline", data={"csrf_token": token})
    assert declined.status_code == 303 and declined.headers["location"].endswith("done=declined#matches")
    (stored,) = services.matching.list_matches(principal=principal(api))
    assert stored.status == "declined"
    again = client.post(f"/mentee/mentors/matches/{mine.id}/accept", data={"csrf_token": token})
    assert again.status_code == 409 and "already declined" in again.text
    html = unescape(client.get("/mentee/mentors").text)
    assert "Status: declined" in html and "They were declined or ruled out for you</th><td>1</td>" in html

    # a new proposal, accepted by both sides: the mentee's accept confirms it
    second = services.matching.cohort(
        CohortRequest(mentees=["mia"], pins=[PairRef(mentee="mia", mentor="good")])
    )
    match_id = second.matches[0].id
    assert match_id is not None
    with services.db.session() as session:
        mentor2, _ = create_user(session, name="mentor2", role=Role.mentor)
        mentor2_id = mentor2.id
    link(services, "good", "mentor2")
    half = services.matching.decide(
        match_id, accept=True, principal=Principal(mentor2_id, "mentor2", Role.mentor)
    )
    assert half.status == "proposed" and half.mentor_accepted
    done = client.post(f"/mentee/mentors/matches/{match_id}/accept", data={"csrf_token": token})
    assert done.headers["location"] == "/mentee/mentors?done=confirmed#matches"
    assert "Match confirmed" in client.get(done.headers["location"]).text
    (confirmed,) = services.matching.list_matches(principal=principal(api), status="accepted")
    assert confirmed.id == match_id and confirmed.linked
