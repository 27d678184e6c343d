"""The program API: programs, cycles, milestones and pairs (admin), a cycle's rhythm and at-risk list, and
/v1/me/rhythm for mentors and mentees; bad input gets a 4xx that says what to fix."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from companion.identity.auth import Role, authenticate, create_user, link_mentorship
from tests.support.app import Api


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def _ids(api: Api) -> dict[str, int]:
    with api.services.db.session() as session:
        return {role: authenticate(session, token).id for role, token in api.tokens.items()}


def test_admin_runs_a_program_through_the_api(api: Api) -> None:
    admin, client = api.auth("admin"), api.client
    program = ok(client.post("/v1/programs", json={"name": "Formal", "cadence_days": 14}, headers=admin), 201)
    assert ok(client.get("/v1/programs", headers=admin))[0]["name"] == "Formal"
    changed = ok(client.patch(f"/v1/programs/{program['id']}", json={"description": "Pairs"}, headers=admin))
    assert changed["description"] == "Pairs"
    today = date.today()
    start = today - timedelta(days=50)
    cycle = ok(
        client.post(
            f"/v1/programs/{program['id']}/cycles", json={"starts_on": start.isoformat()}, headers=admin
        ),
        201,
    )
    assert [m["key"] for m in cycle["milestones"]] == ["goals_agreed", "mid_survey", "end_survey"]
    assert ok(client.get(f"/v1/programs/{program['id']}/cycles", headers=admin))[0]["id"] == cycle["id"]
    cid = cycle["id"]
    extra = ok(
        client.post(
            f"/v1/cycles/{cid}/milestones",
            json={"title": "Show and tell", "due_on": (start + timedelta(days=60)).isoformat()},
            headers=admin,
        ),
        201,
    )
    edited = ok(
        client.patch(
            f"/v1/cycles/{cid}/milestones/{extra['id']}",
            json={"kind": "checkpoint", "title": "Demo"},
            headers=admin,
        )
    )
    assert (edited["title"], edited["key"]) == ("Demo", "show_and_tell")
    ok(client.delete(f"/v1/cycles/{cid}/milestones/{extra['id']}", headers=admin), 204)
    assert len(ok(client.get(f"/v1/cycles/{cid}/milestones", headers=admin))) == 3

    users = _ids(api)
    with api.services.db.session() as session:
        mentorship = link_mentorship(
            session, mentor_user_id=users["mentor"], mentee_user_id=users["mentee"]
        ).id
    pair = ok(client.post(f"/v1/cycles/{cid}/pairs", json={"mentorship_id": mentorship}, headers=admin), 201)
    assert (pair["mentor_name"], pair["mentee_name"]) == ("mentor1", "mentee1")
    ok(
        client.post(
            "/v1/sessions",
            json={"mentee_id": users["mentee"], "held_on": (today - timedelta(days=30)).isoformat()},
            headers=api.auth("mentor"),
        ),
        201,
    )
    assert len(ok(client.get(f"/v1/cycles/{cid}/pairs", headers=admin))[0]["session_dates"]) == 1

    report = ok(client.get(f"/v1/cycles/{cid}/rhythm", headers=admin))
    (row,) = report["pairs"]
    assert (row["sessions"], row["expected"], row["status"]) == (1, 3, "at_risk")
    assert row["reasons"] == ["no session for 30 days"]
    assert report["at_risk"] == 1 and report["week"] == 8
    at_risk = ok(client.get(f"/v1/cycles/{cid}/at-risk", headers=admin))
    assert [p["mentorship_id"] for p in at_risk] == [mentorship]

    for role, partner in (("mentee", "mentor1"), ("mentor", "mentee1")):
        (mine,) = ok(client.get("/v1/me/rhythm", headers=api.auth(role)))
        assert (mine["partner_name"], mine["status"], mine["cycle_id"]) == (partner, "at_risk", cid)
        assert [m["key"] for m in mine["upcoming"]] == ["mid_survey", "end_survey"]
    refused = client.get("/v1/me/rhythm", headers=admin)
    assert refused.status_code == 403 and "/v1/cycles/{id}/rhythm" in refused.json()["error"]["message"]

    moved = ok(client.patch(f"/v1/cycles/{cid}", json={"name": "Spring"}, headers=admin))
    assert moved["name"] == "Spring"
    ok(client.delete(f"/v1/cycles/{cid}/pairs/{mentorship}", headers=admin), 204)
    ok(client.delete(f"/v1/cycles/{cid}", headers=admin), 204)
    ok(client.delete(f"/v1/programs/{program['id']}", headers=admin), 204)
    assert ok(client.get("/v1/programs", headers=admin)) == []


def test_bad_program_input_is_a_clear_4xx(api: Api) -> None:
    admin, client = api.auth("admin"), api.client
    program = ok(client.post("/v1/programs", json={"name": "Formal"}, headers=admin), 201)
    pid = program["id"]
    cases: list[tuple[Any, int, str]] = [
        (client.post("/v1/programs", json={"name": "formal"}, headers=admin), 409, "already exists"),
        (client.post("/v1/programs", json={"name": "X", "kind": "triad"}, headers=admin), 422, "kind"),
        (
            client.post("/v1/programs", json={"name": "X", "cadence_days": 0}, headers=admin),
            422,
            "cadence_days",
        ),
        (client.post("/v1/programs", json={"name": "X", "colour": "red"}, headers=admin), 422, "colour"),
        (
            client.post(
                f"/v1/programs/{pid}/cycles",
                json={"starts_on": "2026-05-01", "ends_on": "2026-04-01"},
                headers=admin,
            ),
            422,
            "must end after it starts",
        ),
        (
            client.post(f"/v1/programs/{pid}/cycles", json={"starts_on": "2026-02-30"}, headers=admin),
            422,
            "starts_on",
        ),
        (
            client.post("/v1/programs/9999/cycles", json={"starts_on": "2026-01-05"}, headers=admin),
            404,
            "no program",
        ),
        (client.get("/v1/cycles/9999/rhythm", headers=admin), 404, "no cycle"),
        (client.get("/v1/cycles/0", headers=admin), 422, "cycle_id"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.text
    cycle = ok(
        client.post(f"/v1/programs/{pid}/cycles", json={"starts_on": "2026-01-05"}, headers=admin), 201
    )
    clash = client.post(f"/v1/programs/{pid}/cycles", json={"starts_on": "2026-03-01"}, headers=admin)
    assert clash.status_code == 409 and "overlap" in clash.json()["error"]["message"]
    for body, words in (
        ({"title": "T", "due_on": "2030-01-01"}, "within the cycle"),
        ({"title": "T", "due_on": "2026-02-01", "key": "Bad Key"}, "key"),
        ({"title": "", "due_on": "2026-02-01"}, "title"),
    ):
        response = client.post(f"/v1/cycles/{cycle['id']}/milestones", json=body, headers=admin)
        assert response.status_code == 422 and words in response.text, response.text
    missing = client.post(f"/v1/cycles/{cycle['id']}/pairs", json={"mentorship_id": 4242}, headers=admin)
    assert missing.status_code == 404 and "no mentorship" in missing.text
    assert len(ok(client.get("/v1/programs", headers=admin))) == 1  # nothing half-written


def test_my_rhythm_shows_only_my_own_pairs(api: Api) -> None:
    admin, client = api.auth("admin"), api.client
    users = _ids(api)
    with api.services.db.session() as session:
        other, other_token = create_user(session, name="mentee2", role=Role.mentee)
        mine = link_mentorship(session, mentor_user_id=users["mentor"], mentee_user_id=users["mentee"]).id
        theirs = link_mentorship(session, mentor_user_id=users["mentor"], mentee_user_id=other.id).id
    program = ok(client.post("/v1/programs", json={"name": "Formal"}, headers=admin), 201)
    start = (date.today() - timedelta(days=10)).isoformat()
    cycle = ok(
        client.post(f"/v1/programs/{program['id']}/cycles", json={"starts_on": start}, headers=admin), 201
    )
    for mentorship in (mine, theirs):
        ok(
            client.post(f"/v1/cycles/{cycle['id']}/pairs", json={"mentorship_id": mentorship}, headers=admin),
            201,
        )
    own = ok(client.get("/v1/me/rhythm", headers=api.auth("mentee")))
    assert [p["mentorship_id"] for p in own] == [mine]
    other_own = ok(client.get("/v1/me/rhythm", headers={"Authorization": f"Bearer {other_token}"}))
    assert [p["mentorship_id"] for p in other_own] == [theirs]
    mentor_own = ok(client.get("/v1/me/rhythm", headers=api.auth("mentor")))
    assert sorted(p["mentorship_id"] for p in mentor_own) == sorted([mine, theirs])
    assert {p["status"] for p in mentor_own} == {"on_rhythm"}  # ten days in, no session yet: fine
