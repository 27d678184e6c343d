"""Assistant and record routes: schemas, streaming, and who may act on whose records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from companion.identity.auth import link_mentorship
from tests.support.app import Api, make_api
from tests.support.assistant import GUIDES, build, good_goals


@pytest.fixture
def assistant_api(tmp_path: Path) -> Iterator[Api]:
    """The API on the scripted fake model (no replies yet) with the small test guides ingested."""
    yield from make_api(build(tmp_path, []))


def ids(api: Api) -> dict[str, int]:
    from companion.identity.auth import authenticate

    with api.services.db.session() as session:
        return {role: authenticate(session, token).id for role, token in api.tokens.items()}


def script(api: Api, *replies: object) -> None:
    """Queue replies on the fake model (fake mode is chosen by settings; this only feeds it)."""
    api.services.llm.replies.extend(r if isinstance(r, str) else json.dumps(r) for r in replies)  # type: ignore[attr-defined]


def test_goal_draft_then_save_and_list(assistant_api: Api) -> None:
    api = assistant_api
    script(api, good_goals(2))
    drafted = api.client.post(
        "/v1/goals/draft", headers=api.auth("mentee"), json={"aspiration": "get better at public speaking"}
    )
    assert drafted.status_code == 200, drafted.text
    body = drafted.json()
    mentee_id = ids(api)["mentee"]
    assert body["origin"] == "model" and body["mentee_id"] == mentee_id and len(body["goals"]) == 2
    assert body["goals"][0]["citations"][0]["source"] in GUIDES

    saved = api.client.post(f"/v1/mentees/{mentee_id}/goals", headers=api.auth("mentee"), json=body["goals"])
    assert saved.status_code == 201 and len(saved.json()) == 2
    goal_id = saved.json()[0]["id"]
    listed = api.client.get(f"/v1/mentees/{mentee_id}/goals", headers=api.auth("mentee")).json()
    assert [g["statement"] for g in listed] == [g["statement"] for g in body["goals"]]
    assert listed[0]["citations"][0]["chunk_id"] == body["goals"][0]["citations"][0]["chunk_id"]

    edited = {**listed[0], "status": "achieved"}  # a fetched goal goes back as it came, read-only fields too
    put = api.client.put(f"/v1/mentees/{mentee_id}/goals/{goal_id}", headers=api.auth("mentee"), json=edited)
    assert put.status_code == 200 and put.json()["status"] == "achieved"
    active = api.client.get(f"/v1/mentees/{mentee_id}/goals?status=active", headers=api.auth("mentee")).json()
    assert len(active) == 1
    gone = api.client.delete(f"/v1/mentees/{mentee_id}/goals/{goal_id}", headers=api.auth("mentee"))
    assert gone.status_code == 204
    assert (
        api.client.delete(f"/v1/mentees/{mentee_id}/goals/{goal_id}", headers=api.auth("mentee")).status_code
        == 404
    )


def test_session_prep_uses_saved_goals_and_latest_notes(assistant_api: Api) -> None:
    api = assistant_api
    mentee_id = ids(api)["mentee"]
    api.client.post(
        f"/v1/mentees/{mentee_id}/goals",
        headers=api.auth("mentee"),
        json=[{"statement": "Ship the onboarding demo", "measure": "1 demo"}],
    )
    for day, notes in ((10, "Old notes"), (3, "Agreed to draft the demo outline")):
        created = api.client.post(
            "/v1/sessions",
            headers=api.auth("mentee"),
            json={"mentee_id": mentee_id, "held_on": str(date.today() - timedelta(days=day)), "notes": notes},
        )
        assert created.status_code == 201
    prep = api.client.post("/v1/sessions/prep", headers=api.auth("mentee"), json={"length_minutes": 30})
    assert prep.status_code == 200, prep.text
    body = prep.json()
    assert body["origin"] == "grounded"  # the fake model has no reply queued
    assert body["goals_used"] == ["Ship the onboarding demo"] and body["notes_used"] is True
    assert sum(item["minutes"] for item in body["items"]) == 30
    assert all(item["citations"] for item in body["items"])
    prompt = api.services.llm.calls[0][1][1].content  # type: ignore[attr-defined]
    assert "Agreed to draft the demo outline" in prompt and "Old notes" not in prompt

    sessions = api.client.get(f"/v1/sessions?mentee_id={mentee_id}", headers=api.auth("mentee")).json()
    assert [s["notes"] for s in sessions] == ["Agreed to draft the demo outline", "Old notes"]
    patched = api.client.patch(
        f"/v1/sessions/{sessions[0]['id']}", headers=api.auth("mentee"), json={"notes": "x"}
    )
    assert patched.json()["notes"] == "x"


def test_a_good_feedback_draft_is_reported_as_kept_not_restructured(assistant_api: Api) -> None:
    api = assistant_api
    draft = (
        "In the Monday retro you listed the three blockers clearly, which let us fix two that day. "
        "Keep doing that."
    )
    body = api.client.post("/v1/feedback/coach", headers=api.auth("mentor"), json={"draft": draft}).json()
    assert body["rewritten"] == draft and body["flagged"] == []
    assert [c["what"] for c in body["changes"]] == [
        "Kept your wording; marked its situation, behaviour, impact and next step"
    ]
    rough = api.client.post(
        "/v1/feedback/coach", headers=api.auth("mentor"), json={"draft": "You never listen."}
    ).json()
    assert "Structured as situation, behaviour, impact and next step" in [c["what"] for c in rough["changes"]]


def test_feedback_and_ask_routes(assistant_api: Api) -> None:
    api = assistant_api
    coached = api.client.post(
        "/v1/feedback/coach", headers=api.auth("mentor"), json={"draft": "You never listen."}
    )
    assert coached.status_code == 200
    body = coached.json()
    assert body["origin"] == "grounded" and body["flagged"][0]["phrase"] == "never"
    assert {
        "rewritten",
        "situation",
        "behaviour",
        "impact",
        "next_step",
        "changes",
        "citations",
    } <= body.keys()

    script(api, "Time-box the agenda [1].")
    answer = api.client.post(
        "/v1/ask", headers=api.auth("mentee"), json={"question": "How do I plan the agenda?"}
    )
    assert answer.status_code == 200 and answer.json()["citations"][0]["n"] == 1


def test_ask_streams_server_sent_events(assistant_api: Api) -> None:
    api = assistant_api
    script(api, "Time-box the agenda and use GROW [1].")
    with api.client.stream(
        "POST",
        "/v1/ask",
        headers=api.auth("mentee"),
        json={"question": "How do I plan the agenda?", "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [block.split("\n") for block in raw.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names == ["sources", "draft", "answer"]
    final = json.loads(events[-1][1].removeprefix("data: "))
    assert final["answer"] == "Time-box the agenda and use GROW [1]." and final["origin"] == "model"


def test_records_access_by_role(assistant_api: Api) -> None:
    api = assistant_api
    who = ids(api)
    mentee_id = who["mentee"]
    from companion.identity.auth import Role, create_user

    with api.services.db.session() as session:
        other, other_token = create_user(session, name="other-mentee", role=Role.mentee)
        other_id = other.id
    other_headers = {"Authorization": f"Bearer {other_token}"}
    goal = [{"statement": "Lead the retro", "measure": "2 retros"}]

    assert (
        api.client.post(f"/v1/mentees/{mentee_id}/goals", headers=api.auth("mentee"), json=goal).status_code
        == 201
    )
    # another mentee, and a mentor who is not linked, cannot read or write these records
    for headers in (other_headers, api.auth("mentor")):
        assert api.client.get(f"/v1/mentees/{mentee_id}/goals", headers=headers).status_code == 403
        assert (
            api.client.post(f"/v1/mentees/{mentee_id}/goals", headers=headers, json=goal).status_code == 403
        )
        denied = api.client.post("/v1/sessions/prep", headers=headers, json={"mentee_id": mentee_id})
        assert denied.status_code == 403
        assert api.client.get(f"/v1/sessions?mentee_id={mentee_id}", headers=headers).status_code == 403
    # once linked, the mentor may; the admin always may
    with api.services.db.session() as session:
        link_mentorship(session, mentor_user_id=who["mentor"], mentee_user_id=mentee_id)
    assert api.client.get(f"/v1/mentees/{mentee_id}/goals", headers=api.auth("mentor")).status_code == 200
    note = {"mentee_id": mentee_id, "held_on": str(date.today()), "notes": "good session"}
    created = api.client.post("/v1/sessions", headers=api.auth("mentor"), json=note)
    assert created.status_code == 201 and created.json()["mentor_id"] == who["mentor"]
    assert api.client.get(f"/v1/sessions/{created.json()['id']}", headers=other_headers).status_code == 403
    assert api.client.get(f"/v1/mentees/{other_id}/goals", headers=api.auth("mentor")).status_code == 403
    assert api.client.get(f"/v1/mentees/{other_id}/goals", headers=api.auth("admin")).status_code == 200
    assert api.client.get("/v1/mentees/99999/goals", headers=api.auth("admin")).status_code == 404
    # a mentor drafting goals must say for whom; mentees default to themselves
    assert (
        api.client.post(
            "/v1/goals/draft", headers=api.auth("mentor"), json={"aspiration": "x y z", "mentee_id": other_id}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/goals/draft", {"aspiration": ""}),
        ("/v1/goals/draft", {"aspiration": "ok aspiration", "max_goals": 9}),
        ("/v1/sessions/prep", {"length_minutes": 5}),
        ("/v1/feedback/coach", {"draft": "hi"}),
        ("/v1/feedback/coach", {"draft": "x" * 5000}),
        ("/v1/ask", {"question": ""}),
        ("/v1/sessions", {"mentee_id": 1, "held_on": "not-a-date"}),
    ],
)
def test_bad_assistant_input_is_422(assistant_api: Api, path: str, body: dict) -> None:  # type: ignore[type-arg]
    response = assistant_api.client.post(path, headers=assistant_api.auth("admin"), json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"


def test_mentee_id_needed_for_non_mentees(assistant_api: Api) -> None:
    response = assistant_api.client.post(
        "/v1/sessions/prep", headers=assistant_api.auth("admin"), json={"length_minutes": 30}
    )
    assert response.status_code == 200, "admins may prepare generic agendas without a mentee"
    saved = assistant_api.client.get("/v1/mentees/abc/goals", headers=assistant_api.auth("admin"))
    assert saved.status_code == 422


def test_access_is_checked_explicitly_before_any_drafting(assistant_api: Api) -> None:
    from companion.errors import Forbidden, NotFound
    from companion.identity.auth import Principal, Role

    api = assistant_api
    who = ids(api)
    records = api.services.records
    mentor = Principal(who["mentor"], "mentor1", Role.mentor)
    records.check_access(Principal(who["mentee"], "mentee1", Role.mentee), who["mentee"])
    records.check_access(Principal(who["admin"], "admin1", Role.admin), who["mentee"])
    with pytest.raises(Forbidden):
        records.check_access(mentor, who["mentee"])
    with pytest.raises(NotFound):
        records.check_access(Principal(who["admin"], "admin1", Role.admin), 99999)
    # goals given in the request are no way around the check: refused before the model is asked
    body = {"mentee_id": who["mentee"], "goals": ["Lead the retro"], "last_notes": "went well"}
    refused = api.client.post("/v1/sessions/prep", headers=api.auth("mentor"), json=body)
    assert refused.status_code == 403
    assert api.services.llm.calls == []  # type: ignore[attr-defined]
    with api.services.db.session() as session:
        link_mentorship(session, mentor_user_id=who["mentor"], mentee_user_id=who["mentee"])
    records.check_access(mentor, who["mentee"])
