"""Mentor pages: my mentees, sessions and notes (with the records access rules), and the feedback coach
(draft and rewrite side by side, with a word-level diff)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.assistant.textdiff import DiffPart, diff_counts, word_diff
from companion.container import Services
from companion.identity.auth import Principal, Role, authenticate, create_user, link_mentorship
from companion.records.service import GoalIn, SessionIn
from tests.support.app import KNOWLEDGE, WEB_PASSWORD, Api, csrf_of, make_api, make_settings, web_client

GOOD_REWRITE = {
    "rewritten": "In Tuesday's stand-up you joined ten minutes after we started. The team repeated the "
    "updates for you. Could you join on time next week, or message me if something gets in the way?",
    "situation": "Tuesday's stand-up meeting",
    "behaviour": "joined ten minutes after the start",
    "impact": "the team had to repeat the updates",
    "next_step": "join on time or send a message first",
    "changes": [{"what": "Replaced 'always' with the specific meeting", "why": "one moment can be acted on"}],
    "sources": [1],
}


class World:
    def __init__(self, api: Api, ids: dict[str, int]) -> None:
        self.api = api
        self.ids = ids

    @property
    def records(self):  # type: ignore[no-untyped-def]
        return self.api.services.records

    def admin(self) -> Principal:
        return Principal(self.ids["admin"], "admin1", Role.admin)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """mentor1 mentors mentee1; mentor2 mentors mentee2; the feedback guide is ingested."""
    settings = make_settings(tmp_path, llm={"mode": "fake"})
    services = Services(settings)
    services.db.create_tables()
    services.knowledge.ingest_paths([KNOWLEDGE / "giving-feedback.md"])
    for api in make_api(services):
        with services.db.session() as session:
            ids = {role: authenticate(session, token).id for role, token in api.tokens.items()}
            mentor2, _ = create_user(session, name="mentor2", role=Role.mentor)
            mentee2, _ = create_user(session, name="mentee2", role=Role.mentee)
            ids["mentor2"], ids["mentee2"] = mentor2.id, mentee2.id
            link_mentorship(session, mentor_user_id=ids["mentor"], mentee_user_id=ids["mentee"])
            link_mentorship(session, mentor_user_id=mentor2.id, mentee_user_id=mentee2.id)
        yield World(api, ids)


def mentor(world: World) -> tuple[TestClient, str]:
    client = web_client(world.api, "mentor")
    return client, csrf_of(client.get("/mentor").text)


def script(world: World, *replies: object) -> None:
    world.api.services.llm.replies.extend(json.dumps(r) for r in replies)  # type: ignore[attr-defined]


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def element(page: str, element_id: str) -> str:
    match = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element #{element_id}"
    return match.group(2)


# ---- my mentees -------------------------------------------------------------------------------------


def test_my_mentees_lists_only_my_mentees_with_goals_and_sessions(world: World) -> None:
    mentee = world.ids["mentee"]
    world.records.add_goals(
        world.admin(), mentee, [GoalIn(statement="Lead the sprint retro", measure="2 retros")]
    )
    world.records.add_session(
        world.admin(),
        SessionIn(mentee_id=mentee, held_on=date.today() - timedelta(days=7), notes="Talked about retros"),
    )
    world.records.add_goals(world.admin(), world.ids["mentee2"], [GoalIn(statement="Someone else's goal")])
    client, _ = mentor(world)
    page = client.get("/mentor")
    assert page.status_code == 200
    assert f'id="mentee-{mentee}"' in page.text and 'id="open-mentee-' in page.text
    assert "Lead the sprint retro" in page.text and "Talked about retros" in page.text
    assert "mentee2" not in page.text and "Someone else" not in page.text
    assert '<th scope="col">Date</th>' in page.text

    detail = client.get(f"/mentor/mentees/{mentee}")
    assert detail.status_code == 200
    assert '<h1 id="mentee-name">mentee1' in detail.text and "Lead the sprint retro" in detail.text
    for needed in (
        'id="session-form"',
        '<label for="s-date">',
        '<label for="s-minutes">',
        '<label for="s-notes">',
    ):
        assert needed in detail.text
    session_id = world.records.list_sessions(world.admin(), mentee)[0].id
    assert (
        f'<label for="notes-{session_id}">' in detail.text and f'id="save-notes-{session_id}"' in detail.text
    )


def test_mentor_without_mentees_sees_an_explanation(world: World) -> None:
    with world.api.services.db.session() as session:
        create_user(session, name="mentor3", role=Role.mentor)
    world.api.services.accounts.set_password("mentor3", WEB_PASSWORD)
    client = TestClient(world.api.client.app, follow_redirects=False)
    client.post("/signin", data={"name": "mentor3", "password": WEB_PASSWORD})
    page = client.get("/mentor")
    assert page.status_code == 200 and 'id="no-mentees"' in page.text


def test_record_a_session_then_edit_its_notes(world: World) -> None:
    mentee = world.ids["mentee"]
    client, csrf = mentor(world)
    held_on = (date.today() - timedelta(days=2)).isoformat()
    created = client.post(
        f"/mentor/mentees/{mentee}/sessions",
        data={
            "csrf_token": csrf,
            "held_on": held_on,
            "length_minutes": "45",
            "notes": "Agreed: draft the plan",
        },
    )
    assert created.status_code == 303
    [stored] = world.records.list_sessions(world.admin(), mentee)
    assert (stored.held_on.isoformat(), stored.length_minutes, stored.notes) == (
        held_on,
        45,
        "Agreed: draft the plan",
    )
    assert stored.mentor_id == world.ids["mentor"]
    assert created.headers["location"] == f"/mentor/mentees/{mentee}?saved=session#session-{stored.id}"
    shown = client.get(created.headers["location"])
    assert "Session recorded." in shown.text and "Agreed: draft the plan</textarea>" in shown.text

    edited = client.post(
        f"/mentor/sessions/{stored.id}/notes",
        data={"csrf_token": csrf, "notes": "Plan drafted; review next time"},
    )
    assert edited.status_code == 303
    assert edited.headers["location"] == f"/mentor/mentees/{mentee}?saved=notes#session-{stored.id}"
    assert world.records.get_session(world.admin(), stored.id).notes == "Plan drafted; review next time"
    assert "Notes saved." in client.get(edited.headers["location"]).text


@pytest.mark.parametrize(
    ("held_on", "minutes", "problem"),
    [
        ("", "60", "Date:"),
        ("2024-02-30", "60", "Date:"),
        (str(date.today()), "abc", "Length in minutes:"),
        (str(date.today()), "1000", "Length in minutes:"),
    ],
)
def test_bad_session_input_is_422_and_keeps_what_was_typed(
    world: World, held_on: str, minutes: str, problem: str
) -> None:
    mentee = world.ids["mentee"]
    client, csrf = mentor(world)
    page = client.post(
        f"/mentor/mentees/{mentee}/sessions",
        data={"csrf_token": csrf, "held_on": held_on, "length_minutes": minutes, "notes": "keep me"},
    )
    assert page.status_code == 422 and 'role="alert"' in page.text and problem in page.text
    assert "keep me</textarea>" in page.text and f'value="{minutes}"' in page.text
    assert world.records.list_sessions(world.admin(), mentee) == []


def test_notes_too_long_are_refused_and_kept_in_the_form(world: World) -> None:
    mentee = world.ids["mentee"]
    stored = world.records.add_session(
        world.admin(), SessionIn(mentee_id=mentee, held_on=date.today(), notes="short")
    )
    client, csrf = mentor(world)
    long_notes = "n" * 20001
    page = client.post(f"/mentor/sessions/{stored.id}/notes", data={"csrf_token": csrf, "notes": long_notes})
    assert page.status_code == 422 and "Notes:" in page.text and f"{long_notes}</textarea>" in page.text
    assert world.records.get_session(world.admin(), stored.id).notes == "short"


def test_mentor_cannot_open_or_write_another_mentors_mentee(world: World) -> None:
    other = world.ids["mentee2"]
    theirs = world.records.add_session(
        world.admin(), SessionIn(mentee_id=other, held_on=date.today(), notes="private")
    )
    client, csrf = mentor(world)
    assert client.get(f"/mentor/mentees/{other}").status_code == 403
    assert client.get("/mentor/mentees/99999").status_code == 403  # no hint whether the id exists
    assert client.get("/mentor/mentees/abc").status_code == 422
    write = client.post(
        f"/mentor/mentees/{other}/sessions",
        data={"csrf_token": csrf, "held_on": str(date.today()), "length_minutes": "30", "notes": "sneaky"},
    )
    assert write.status_code == 403 and "sneaky" not in write.text
    edit = client.post(f"/mentor/sessions/{theirs.id}/notes", data={"csrf_token": csrf, "notes": "changed"})
    assert edit.status_code == 403 and "private" not in edit.text
    assert [s.notes for s in world.records.list_sessions(world.admin(), other)] == ["private"]
    missing = client.post("/mentor/sessions/99999/notes", data={"csrf_token": csrf, "notes": "x"})
    assert missing.status_code == 404


def test_forms_without_csrf_token_are_refused(world: World) -> None:
    mentee = world.ids["mentee"]
    stored = world.records.add_session(
        world.admin(), SessionIn(mentee_id=mentee, held_on=date.today(), notes="kept")
    )
    client, _ = mentor(world)
    session_form = {"held_on": str(date.today()), "length_minutes": "30", "notes": "forged"}
    assert client.post(f"/mentor/mentees/{mentee}/sessions", data=session_form).status_code == 403
    forged = {**session_form, "csrf_token": "forged-token"}
    assert client.post(f"/mentor/mentees/{mentee}/sessions", data=forged).status_code == 403
    assert client.post(f"/mentor/sessions/{stored.id}/notes", data={"notes": "forged"}).status_code == 403
    assert client.post("/mentor/feedback", data={"draft": "You are always late."}).status_code == 403
    assert [s.notes for s in world.records.list_sessions(world.admin(), mentee)] == ["kept"]
    assert world.api.services.llm.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["mentee", "admin"])
def test_other_roles_get_403_on_mentor_pages(world: World, role: str) -> None:
    client = web_client(world.api, role)
    csrf = csrf_of(client.get("/ask").text)
    for path in ("/mentor", "/mentor/feedback", f"/mentor/mentees/{world.ids['mentee']}"):
        page = client.get(path)
        assert page.status_code == 403 and "this page is for mentors" in page.text
    refused = client.post("/mentor/feedback", data={"csrf_token": csrf, "draft": "You are always late."})
    assert refused.status_code == 403


# ---- feedback coach ---------------------------------------------------------------------------------


def test_feedback_coach_shows_draft_and_rewrite_side_by_side_with_diff(world: World) -> None:
    client, csrf = mentor(world)
    form = client.get("/mentor/feedback")
    assert '<label for="fb-draft">' in form.text and '<label for="fb-context">' in form.text
    script(world, GOOD_REWRITE)
    draft = "You always join the stand-up ten minutes after we started. So lazy."
    page = client.post(
        "/mentor/feedback", data={"csrf_token": csrf, "draft": draft, "context": "my mentee, this week"}
    )
    assert page.status_code == 200, page.text
    cols = page.text[page.text.index('<div class="cols">') :]
    assert cols.index('id="fb-original"') < cols.index('id="fb-rewrite"')
    assert text_of(element(page.text, "fb-original")) == draft
    assert text_of(element(page.text, "fb-rewrite")) == GOOD_REWRITE["rewritten"]
    assert 'id="fb-grounded"' not in page.text
    for part in ("situation", "behaviour", "impact"):
        assert text_of(element(page.text, f"fb-{part}")) == GOOD_REWRITE[part]
    assert text_of(element(page.text, "fb-next-step")) == GOOD_REWRITE["next_step"]
    changes = text_of(element(page.text, "fb-changes"))
    assert "Replaced 'always' with the specific meeting: one moment can be acted on" in changes
    assert "Removed the judgment 'lazy'" in changes  # the rule-based change the model did not make
    flags = text_of(element(page.text, "fb-flags"))
    assert '"always" (absolute)' in flags and '"lazy" (character)' in flags
    assert "/guides/view?source=giving-feedback.md&amp;chunk=" in element(page.text, "fb-citations")
    prompt = world.api.services.llm.calls[0][1][1].content  # type: ignore[attr-defined]
    assert "my mentee, this week" in prompt

    diff = element(page.text, "fb-diff")
    removed = [text_of(d) for d in re.findall(r"<del>(.*?)</del>", diff, re.S)]
    added = [text_of(m) for m in re.findall(r'<mark class="changed">(.*?)</mark>', diff, re.S)]
    assert removed == ["[removed: You always join the]", "[removed: So lazy.]"]
    assert added[:2] == ["[added: In Tuesday's]", "[added: you joined]"]
    assert "</mark> ten minutes after we started. <del>" in diff
    # read in order, kept + added words give the rewrite back, and kept + removed words the draft
    unlabelled = re.sub(r'<span class="sr-only">[^<]*</span>', "", diff)
    after = re.sub(r"<del>.*?</del>", "", unlabelled, flags=re.S)
    before = re.sub(r'<mark class="changed">.*?</mark>', "", unlabelled, flags=re.S)
    assert " ".join(text_of(after).split()) == GOOD_REWRITE["rewritten"]
    assert " ".join(text_of(before).split()) == draft


def test_feedback_grounded_draft_is_flagged_and_asks_instead_of_blanks(world: World) -> None:
    client, csrf = mentor(world)
    draft = "You never listen to anyone."
    page = client.post("/mentor/feedback", data={"csrf_token": csrf, "draft": draft})
    assert page.status_code == 200
    assert 'id="fb-grounded"' in page.text and '<span class="flag">Grounded draft</span>' in page.text
    assert "[" not in text_of(element(page.text, "fb-rewrite")), "no [bracket] blanks in the rewrite"
    questions = element(page.text, "fb-questions")
    assert 'name="situation"' in questions and 'name="impact"' in questions
    # the page takes the answers and coaches again: they end up in the rewrite, and the questions go
    answered = client.post(
        "/mentor/feedback",
        data={
            "csrf_token": csrf,
            "draft": draft,
            "situation": "In Monday's planning meeting",
            "impact": "two of Sam's ideas were dropped without discussion",
        },
    )
    rewrite = text_of(element(answered.text, "fb-rewrite"))
    assert rewrite.startswith("In Monday's planning meeting, I noticed that")
    assert "two of Sam's ideas were dropped without discussion" in rewrite
    assert 'id="fb-questions"' not in answered.text


@pytest.mark.parametrize(
    ("draft", "problem"), [("hi", "Your draft feedback:"), ("x" * 4001, "Your draft feedback:")]
)
def test_bad_feedback_input_is_422_and_keeps_it(world: World, draft: str, problem: str) -> None:
    client, csrf = mentor(world)
    page = client.post("/mentor/feedback", data={"csrf_token": csrf, "draft": draft, "context": "ctx kept"})
    assert page.status_code == 422 and problem in page.text and 'role="alert"' in page.text
    assert f">{draft}</textarea>" in page.text and ">ctx kept</textarea>" in page.text
    assert world.api.services.llm.calls == []  # type: ignore[attr-defined]


# ---- word diff ----------------------------------------------------------------------------------------


def test_word_diff_on_known_inputs() -> None:
    assert word_diff("you never listen to the team", "you rarely listen to the whole team") == [
        DiffPart("same", "you"),
        DiffPart("removed", "never"),
        DiffPart("added", "rarely"),
        DiffPart("same", "listen to the"),
        DiffPart("added", "whole"),
        DiffPart("same", "team"),
    ]
    assert word_diff("Be  on\ntime.", "Be on time.") == [DiffPart("same", "Be on time.")]
    assert word_diff("", "New text here") == [DiffPart("added", "New text here")]
    assert word_diff("Old words", "") == [DiffPart("removed", "Old words")]
    assert word_diff("late.", "Late") == [DiffPart("removed", "late."), DiffPart("added", "Late")]
    parts = word_diff("a b c d", "a x c d e")
    assert parts == [
        DiffPart("same", "a"),
        DiffPart("removed", "b"),
        DiffPart("added", "x"),
        DiffPart("same", "c d"),
        DiffPart("added", "e"),
    ]
    assert diff_counts(parts) == {"same": 3, "added": 2, "removed": 1}


def test_word_diff_folds_a_short_kept_run_stranded_between_larger_changes() -> None:
    # a lone "X" inside a rewritten sentence is shown as part of the change
    assert word_diff("a b c X d e f", "p q r X s t u") == [
        DiffPart("removed", "a b c X d e f"),
        DiffPart("added", "p q r X s t u"),
    ]
    # ... but not when a change beside it is as small as the kept run
    assert word_diff("a b X d", "p X s") == [
        DiffPart("removed", "a b"),
        DiffPart("added", "p"),
        DiffPart("same", "X"),
        DiffPart("removed", "d"),
        DiffPart("added", "s"),
    ]
    # folding cascades: two stranded runs in one rewritten stretch become one change
    assert word_diff("a b c X d e f Y g h i", "p q r X s t u Y v w z") == [
        DiffPart("removed", "a b c X d e f Y g h i"),
        DiffPart("added", "p q r X s t u Y v w z"),
    ]
