"""Authorization matrix: every route in the OpenAPI schema, called by each role and without a token.

`ALLOWED` is the explicit table of who may call what. A route missing from it fails the test, so every
new route forces a decision. Calls use a small world where mentee1 has a linked mentor (mentor1), a
profile, a goal, a session and a proposed match; the path ids are mentee1's, so a role in the table
must get through (2xx, or 404/409 once an earlier call changed the data), and a role outside it gets 403.
Separately, mentees never see another mentee's data and mentors only their own mentees'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from companion.container import Services
from companion.identity.auth import Role, authenticate, create_user, link_mentorship
from tests.support.app import Api, make_api, make_settings
from tests.support.people import MENTEE, MENTOR

PUBLIC = frozenset({"anonymous", "mentee", "mentor", "admin"})
ANY = frozenset({"mentee", "mentor", "admin"})
ADMIN = frozenset({"admin"})
MENTEE_ADMIN = frozenset({"mentee", "admin"})
MENTEE_MENTOR = frozenset({"mentee", "mentor"})
MENTEE_ONLY = frozenset({"mentee"})

# (method, path) -> roles that may call it on mentee1's resources. Everyone else gets 401 (no token) or 403.
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/v1/search"): ANY,
    ("GET", "/v1/knowledge/documents"): ANY,
    ("GET", "/v1/knowledge/documents/{document_id}"): ANY,
    ("POST", "/v1/knowledge/documents"): ADMIN,
    ("DELETE", "/v1/knowledge/documents/{document_id}"): ADMIN,
    ("POST", "/v1/goals/draft"): ANY,
    ("POST", "/v1/sessions/prep"): ANY,
    ("POST", "/v1/feedback/coach"): ANY,
    ("POST", "/v1/ask"): ANY,
    ("GET", "/v1/mentees/{mentee_id}/goals"): ANY,
    ("POST", "/v1/mentees/{mentee_id}/goals"): ANY,
    ("PUT", "/v1/mentees/{mentee_id}/goals/{goal_id}"): ANY,
    ("DELETE", "/v1/mentees/{mentee_id}/goals/{goal_id}"): ANY,
    ("GET", "/v1/mentees/{mentee_id}/goals/{goal_id}/outcome"): ANY,
    ("POST", "/v1/mentees/{mentee_id}/goals/{goal_id}/status"): ANY,
    ("POST", "/v1/mentees/{mentee_id}/goals/{goal_id}/progress"): ANY,
    ("GET", "/v1/recognition"): ADMIN,
    ("GET", "/v1/recognition.csv"): ADMIN,
    ("POST", "/v1/nominations"): MENTEE_ONLY,  # a mentee nominates their own mentor
    ("GET", "/v1/nominations"): MENTEE_ADMIN,  # one's own; admins all
    ("GET", "/v1/dashboard"): ADMIN,
    ("GET", "/v1/dashboard/{figure}.csv"): ADMIN,
    ("POST", "/v1/sessions"): ANY,
    ("GET", "/v1/sessions"): ANY,
    ("GET", "/v1/sessions/{session_id}"): ANY,
    ("PATCH", "/v1/sessions/{session_id}"): ANY,
    ("GET", "/v1/people"): ADMIN,
    ("POST", "/v1/people"): ADMIN,
    ("POST", "/v1/people/import"): ADMIN,
    ("GET", "/v1/people/me"): ANY,
    ("PUT", "/v1/people/me"): MENTEE_MENTOR,  # one's own matching profile; admins have none
    ("GET", "/v1/people/skills"): ANY,
    ("GET", "/v1/people/{person_id}"): ANY,
    ("PATCH", "/v1/people/{person_id}"): MENTEE_ADMIN,  # the owner; the mentor may read, not edit
    ("DELETE", "/v1/people/{person_id}"): ADMIN,
    ("GET", "/v1/mentees/{mentee_id}/recommendations"): MENTEE_ADMIN,
    ("POST", "/v1/matching/cohort"): ADMIN,
    ("GET", "/v1/matching/runs/{run_id}"): ADMIN,
    ("GET", "/v1/matching/runs/{run_id}/audit"): ADMIN,
    ("POST", "/v1/matching/runs/{run_id}/accept"): ADMIN,
    ("GET", "/v1/matches"): ANY,
    ("POST", "/v1/matches/{match_id}/accept"): ANY,
    ("POST", "/v1/matches/{match_id}/decline"): ANY,
    ("GET", "/v1/evals/runs"): ADMIN,
    ("GET", "/v1/evals/runs/{run_id}"): ADMIN,
    ("GET", "/v1/evals/results/{result_id}"): ADMIN,
    ("GET", "/v1/evals/compare"): ADMIN,
    ("POST", "/v1/evals/results/{result_id}/label"): ADMIN,
    ("GET", "/v1/audit"): ADMIN,
    ("POST", "/v1/evals/runs"): ADMIN,
    ("GET", "/v1/jobs"): ADMIN,  # every job kind is admin work (ingest, import, matching, evals)
    ("GET", "/v1/jobs/{job_id}"): ADMIN,
    ("POST", "/v1/jobs/{job_id}/cancel"): ADMIN,
    # programs, cycles, milestones, pairs and rhythm (issue 16)
    ("GET", "/v1/programs"): ADMIN,
    ("POST", "/v1/programs"): ADMIN,
    ("GET", "/v1/programs/{program_id}"): ADMIN,
    ("PATCH", "/v1/programs/{program_id}"): ADMIN,
    ("DELETE", "/v1/programs/{program_id}"): ADMIN,
    ("GET", "/v1/programs/{program_id}/cycles"): ADMIN,
    ("POST", "/v1/programs/{program_id}/cycles"): ADMIN,
    ("GET", "/v1/cycles/{cycle_id}"): ADMIN,
    ("PATCH", "/v1/cycles/{cycle_id}"): ADMIN,
    ("DELETE", "/v1/cycles/{cycle_id}"): ADMIN,
    ("GET", "/v1/cycles/{cycle_id}/milestones"): ADMIN,
    ("POST", "/v1/cycles/{cycle_id}/milestones"): ADMIN,
    ("PATCH", "/v1/cycles/{cycle_id}/milestones/{milestone_id}"): ADMIN,
    ("DELETE", "/v1/cycles/{cycle_id}/milestones/{milestone_id}"): ADMIN,
    ("GET", "/v1/cycles/{cycle_id}/pairs"): ADMIN,
    ("POST", "/v1/cycles/{cycle_id}/pairs"): ADMIN,
    ("DELETE", "/v1/cycles/{cycle_id}/pairs/{mentorship_id}"): ADMIN,
    ("GET", "/v1/cycles/{cycle_id}/rhythm"): ADMIN,
    ("GET", "/v1/cycles/{cycle_id}/at-risk"): ADMIN,
    ("GET", "/v1/me/rhythm"): MENTEE_MENTOR,  # one's own pairs; admins have none
    ("GET", "/v1/surveys"): ADMIN,
    ("POST", "/v1/surveys"): ADMIN,
    ("GET", "/v1/surveys/mine"): ANY,  # an admin is asked nothing: an empty list
    ("GET", "/v1/surveys/contact-requests"): ADMIN,
    ("POST", "/v1/surveys/contact-requests/{response_id}/handled"): ADMIN,
    ("GET", "/v1/surveys/{survey_id}"): ADMIN,
    ("PATCH", "/v1/surveys/{survey_id}"): ADMIN,
    ("DELETE", "/v1/surveys/{survey_id}"): ADMIN,
    ("GET", "/v1/surveys/{survey_id}/results"): ADMIN,
    ("POST", "/v1/surveys/{survey_id}/responses"): MENTEE_MENTOR,  # the survey's audience answers, once
    ("GET", "/v1/me/preferences"): ANY,  # one's own e-mail opt-out and calendar feed
    ("PUT", "/v1/me/preferences"): ANY,
    ("POST", "/v1/me/preferences/calendar/reset"): ANY,
    ("GET", "/calendar/{token}.ics"): PUBLIC,  # the secret token is the key: an unknown one is a 404
    ("GET", "/v1/nudges"): ADMIN,
    ("POST", "/v1/nudges/run"): ADMIN,
}

GUIDE = b"# Goals\n\n## SMART\n\nA goal names a measure and a date. Agree the first steps together.\n"
MENTEE2 = {**MENTEE, "email": "tia.mentee@larkfield.example", "name": "Tia Mentee", "user": "mentee2"}


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.ids: dict[str, Any] = {}

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> Any:
        headers = self.api.auth(role) if role != "anonymous" else {}
        return self.api.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = make_settings(tmp_path, llm={"mode": "fake"}, assistant={"min_similarity": 0.0})
    services = Services(settings)
    services.db.create_tables()
    for api in make_api(services):
        w = World(api)
        with services.db.session() as session:
            users = {role: authenticate(session, token).id for role, token in api.tokens.items()}
            mentee2, api.tokens["mentee2"] = create_user(session, name="mentee2", role=Role.mentee)
            mentor2, api.tokens["mentor2"] = create_user(session, name="mentor2", role=Role.mentor)
            pair1 = link_mentorship(session, mentor_user_id=users["mentor"], mentee_user_id=users["mentee"])
            pair2 = link_mentorship(session, mentor_user_id=mentor2.id, mentee_user_id=mentee2.id)
            w.ids.update(mentorship=pair1.id, mentorship2=pair2.id)
            w.ids.update(mentee_user=users["mentee"], mentee2_user=mentee2.id, mentor_user=users["mentor"])

        def ok(response: Any) -> Any:
            assert response.status_code < 300, response.text
            return response.json()

        ok(w.call("POST", "/v1/knowledge/documents", "admin", files={"file": ("g.md", GUIDE)}))
        w.ids["document"] = ok(w.call("GET", "/v1/knowledge/documents", "admin"))[0]["id"]
        w.ids["mentor_person"] = ok(
            w.call("POST", "/v1/people", "admin", json={**MENTOR, "user": "mentor1"})
        )["id"]
        w.ids["mentee_person"] = ok(
            w.call("POST", "/v1/people", "admin", json={**MENTEE, "user": "mentee1"})
        )["id"]
        w.ids["mentee2_person"] = ok(w.call("POST", "/v1/people", "admin", json=MENTEE2))["id"]
        for user, key in (("mentee", "mentee_user"), ("mentee2", "mentee2_user")):
            mid = w.ids[key]
            goal = ok(
                w.call("POST", f"/v1/mentees/{mid}/goals", user, json=[{"statement": f"Goal of {user}"}])
            )
            w.ids[f"{user}_goal"] = goal[0]["id"]
            session_ = ok(
                w.call("POST", "/v1/sessions", user, json={"mentee_id": mid, "held_on": "2026-01-05"})
            )
            w.ids[f"{user}_session"] = session_["id"]
        pin = {"mentee": w.ids["mentee_person"], "mentor": w.ids["mentor_person"]}
        run = ok(
            w.call(
                "POST",
                "/v1/matching/cohort",
                "admin",
                json={"mentees": [w.ids["mentee_person"]], "pins": [pin]},
            )
        )
        w.ids["run"] = run["run_id"]
        w.ids["match"] = ok(w.call("GET", "/v1/matches", "admin"))[0]["id"]
        w.ids["program"] = ok(w.call("POST", "/v1/programs", "admin", json={"name": "Formal"}))["id"]
        cycle = ok(
            w.call(
                "POST", f"/v1/programs/{w.ids['program']}/cycles", "admin", json={"starts_on": "2026-01-05"}
            )
        )
        w.ids.update(cycle=cycle["id"], milestone=cycle["milestones"][0]["id"])
        ok(
            w.call(
                "POST",
                f"/v1/cycles/{cycle['id']}/pairs",
                "admin",
                json={"mentorship_id": w.ids["mentorship"]},
            )
        )
        w.ids["job"] = ok(
            w.call("POST", "/v1/matching/cohort?background=true", "admin", json={"save": False})
        )["id"]
        w.ids["survey"] = ok(w.call("POST", "/v1/surveys", "admin", json={"kind": "mid"}))["id"]
        contact = {"answers": {}, "contact_requested": True, "contact_note": "Please call me."}
        ok(w.call("POST", f"/v1/surveys/{w.ids['survey']}/responses", "mentee2", json=contact))
        w.ids["contact"] = ok(w.call("GET", "/v1/surveys/contact-requests", "admin"))[0]["response_id"]
        yield w


def _path_value(path: str, name: str, ids: dict[str, Any]) -> int | str:
    if name == "mentee_id":
        return ids["mentee_person"] if path.endswith("/recommendations") else ids["mentee_user"]
    return {
        "document_id": ids["document"],
        "goal_id": ids["mentee_goal"],
        "session_id": ids["mentee_session"],
        "person_id": ids["mentee_person"],
        "run_id": ids["run"],
        "match_id": ids["match"],
        "result_id": 1,  # no eval has run: an admin gets 404, everyone else 401/403 first
        "job_id": ids["job"],  # a finished dry-run cohort job: cancelling it is a 409 for an admin
        "program_id": ids["program"],
        "cycle_id": ids["cycle"],
        "milestone_id": ids["milestone"],
        "mentorship_id": ids["mentorship"],  # mentee1's pair, in the cycle
        "survey_id": ids["survey"],
        "response_id": ids["contact"],
        "figure": "summary",
        "token": "not-a-calendar-token",
    }[name]


def _request(method: str, path: str, ids: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The concrete URL and a valid request for mentee1's resources."""
    url = re.sub(r"\{(\w+)\}", lambda m: str(_path_value(path, m.group(1), ids)), path)
    mentee = ids["mentee_user"]
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/search"): {"json": {"query": "smart goal measure"}},
        ("POST", "/v1/knowledge/documents"): {"files": {"file": ("other.md", GUIDE + b"\nMore.")}},
        ("POST", "/v1/goals/draft"): {"json": {"aspiration": "run better meetings", "mentee_id": mentee}},
        ("POST", "/v1/sessions/prep"): {"json": {"mentee_id": mentee}},
        ("POST", "/v1/feedback/coach"): {"json": {"draft": "You were late to the review twice."}},
        ("POST", "/v1/ask"): {"json": {"question": "what makes a goal smart?"}},
        ("POST", "/v1/mentees/{mentee_id}/goals"): {"json": [{"statement": "Another goal"}]},
        ("PUT", "/v1/mentees/{mentee_id}/goals/{goal_id}"): {"json": {"statement": "Edited goal"}},
        ("POST", "/v1/mentees/{mentee_id}/goals/{goal_id}/status"): {"json": {"status": "achieved"}},
        ("POST", "/v1/mentees/{mentee_id}/goals/{goal_id}/progress"): {"json": {"note": "Booked the room."}},
        ("POST", "/v1/nominations"): {
            "json": {"mentor_id": ids["mentor_user"], "reason": "Always prepared and generous with time."}
        },
        ("POST", "/v1/sessions"): {"json": {"mentee_id": mentee, "held_on": "2026-02-02"}},
        ("GET", "/v1/sessions"): {"params": {"mentee_id": mentee}},
        ("PATCH", "/v1/sessions/{session_id}"): {"json": {"notes": "Talked about goals."}},
        ("POST", "/v1/people"): {"json": {**MENTOR, "email": "new.mentor@larkfield.example"}},
        ("POST", "/v1/people/import"): {
            "files": {"file": ("p.json", json.dumps([{**MENTOR, "email": "imp@larkfield.example"}]).encode())}
        },
        ("PATCH", "/v1/people/{person_id}"): {"json": {"goals": "I want to learn RTOS scheduling well."}},
        ("PUT", "/v1/people/me"): {"json": {"bio": "I like long walks between code reviews."}},
        ("POST", "/v1/matching/cohort"): {"json": {"save": False}},
        ("POST", "/v1/evals/runs"): {"json": {"suites": ["feedback"], "limit": 1}},
        ("POST", "/v1/programs"): {"json": {"name": "Circles", "kind": "group"}},
        ("PATCH", "/v1/programs/{program_id}"): {"json": {"description": "Pairs of one mentor and mentee"}},
        ("POST", "/v1/programs/{program_id}/cycles"): {"json": {"starts_on": "2030-01-07"}},
        ("PATCH", "/v1/cycles/{cycle_id}"): {"json": {"name": "Spring 2026"}},
        ("POST", "/v1/cycles/{cycle_id}/milestones"): {"json": {"title": "Demo day", "due_on": "2026-03-02"}},
        ("PATCH", "/v1/cycles/{cycle_id}/milestones/{milestone_id}"): {"json": {"title": "Goals set"}},
        ("POST", "/v1/cycles/{cycle_id}/pairs"): {"json": {"mentorship_id": ids["mentorship2"]}},
        ("POST", "/v1/surveys"): {"json": {"kind": "end", "audience": "mentor"}},
        ("PATCH", "/v1/surveys/{survey_id}"): {"json": {"title": "Renamed survey"}},
        ("POST", "/v1/surveys/{survey_id}/responses"): {"json": {"answers": {"relationship": 4}}},
        ("PUT", "/v1/me/preferences"): {"json": {"email_opt_out": True}},
        ("POST", "/v1/nudges/run"): {"json": {"dry_run": True}},
    }
    return url, bodies.get((method, path), {})


def _routes(app_client: TestClient) -> list[tuple[str, str]]:
    schema = app_client.app.openapi()  # type: ignore[attr-defined]
    routes = [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops]
    # deletes last (people last of all), so earlier calls find the data
    return sorted(routes, key=lambda r: (r[0] == "DELETE", r[1].startswith("/v1/people"), r[1], r[0]))


def test_every_route_has_an_authorization_decision(world: World) -> None:
    routes = set(_routes(world.api.client))
    missing = sorted(routes - ALLOWED.keys())
    assert not missing, f"routes without an entry in ALLOWED (decide who may call them): {missing}"
    stale = sorted(ALLOWED.keys() - routes)
    assert not stale, f"entries in ALLOWED for routes that no longer exist: {stale}"


def test_authorization_matrix(world: World) -> None:
    table: list[str] = []
    failures: list[str] = []
    for method, path in _routes(world.api.client):
        allowed = ALLOWED.get((method, path))
        if allowed is None:
            continue  # reported by the test above
        url, kwargs = _request(method, path, world.ids)
        row = []
        for role in ("anonymous", "mentee", "mentor", "admin"):
            response = world.call(method, url, role, **kwargs)
            status = response.status_code
            row.append(f"{role}={status}")
            if status >= 500:
                failures.append(f"{method} {path} as {role}: {status} {response.text[:200]}")
            elif role in allowed:
                if status in (401, 403):
                    failures.append(f"{method} {path} as {role}: expected access, got {status}")
            elif role == "anonymous" and status != 401:
                failures.append(f"{method} {path} without a token: expected 401, got {status}")
            elif role != "anonymous" and status != 403:
                failures.append(
                    f"{method} {path} as {role}: expected 403, got {status} {response.text[:200]}"
                )
            if status in (401, 403):
                assert response.json()["error"]["code"] in ("unauthorized", "forbidden")
        table.append(f"{method:6} {path:50} {' '.join(row)}")
    print("\n".join(table))
    print(f"authorization matrix: {len(table)} routes x 4 callers, {len(failures)} failures")
    assert not failures, "\n".join(failures)


def test_v1_routes_refuse_a_wrong_token(world: World) -> None:
    for method, path in _routes(world.api.client):
        if not path.startswith("/v1"):
            continue
        url, _ = _request(method, path, world.ids)
        response = world.api.client.request(method, url, headers={"Authorization": "Bearer cmp_not-a-token"})
        assert response.status_code == 401, (method, path, response.status_code)


def test_mentees_see_only_their_own_data(world: World) -> None:
    ids = world.ids
    other = ids["mentee2_user"]
    for role in ("mentee", "mentor"):  # mentee1, and mentor1 (mentor of mentee1, not of mentee2)
        denied = [
            world.call("GET", f"/v1/mentees/{other}/goals", role),
            world.call("POST", f"/v1/mentees/{other}/goals", role, json=[{"statement": "Sneaky goal"}]),
            world.call(
                "PUT", f"/v1/mentees/{other}/goals/{ids['mentee2_goal']}", role, json={"statement": "Mine"}
            ),
            world.call("DELETE", f"/v1/mentees/{other}/goals/{ids['mentee2_goal']}", role),
            world.call("GET", "/v1/sessions", role, params={"mentee_id": other}),
            world.call("GET", f"/v1/sessions/{ids['mentee2_session']}", role),
            world.call("PATCH", f"/v1/sessions/{ids['mentee2_session']}", role, json={"notes": "x"}),
            world.call("POST", "/v1/sessions", role, json={"mentee_id": other, "held_on": "2026-01-01"}),
            world.call("GET", f"/v1/people/{ids['mentee2_person']}", role),
            world.call("PATCH", f"/v1/people/{ids['mentee2_person']}", role, json={"goals": "Mine now."}),
            world.call("GET", f"/v1/mentees/{ids['mentee2_person']}/recommendations", role),
            world.call("POST", "/v1/goals/draft", role, json={"aspiration": "learn", "mentee_id": other}),
            world.call("POST", "/v1/sessions/prep", role, json={"mentee_id": other}),
        ]
        statuses = [r.status_code for r in denied]
        assert statuses == [403] * len(denied), (role, statuses)
    # a mentee cannot use a goal id of another mentee under their own id either
    mine = ids["mentee_user"]
    crossed = world.call(
        "PUT", f"/v1/mentees/{mine}/goals/{ids['mentee2_goal']}", "mentee", json={"statement": "Mine"}
    )
    assert crossed.status_code == 404
    # the other mentee's own data is intact and visible to them and their mentor
    goals = world.call("GET", f"/v1/mentees/{other}/goals", "mentee2").json()
    assert [g["statement"] for g in goals] == ["Goal of mentee2"]
    assert world.call("GET", f"/v1/mentees/{other}/goals", "mentor2").status_code == 200
    assert world.call("GET", f"/v1/mentees/{mine}/goals", "mentor2").status_code == 403
    # mentors see their mentee's records, never the mentee's recommendations
    assert world.call("GET", f"/v1/mentees/{mine}/goals", "mentor").status_code == 200
    assert world.call("GET", "/v1/sessions", "mentor", params={"mentee_id": mine}).status_code == 200
    # matches: each sees only the ones they are part of
    assert len(world.call("GET", "/v1/matches", "mentee").json()) == 1
    assert world.call("GET", "/v1/matches", "mentee2").json() == []
    assert world.call("GET", "/v1/matches", "mentor2").json() == []
    assert world.call("POST", f"/v1/matches/{ids['match']}/accept", "mentee2").status_code == 403
    assert world.call("POST", f"/v1/matches/{ids['match']}/decline", "mentor2").status_code == 403
