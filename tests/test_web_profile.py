"""The self-service profile page: mentors and mentees fill in their own matching profile, and mentees see
recommended mentors right after saving."""

from __future__ import annotations

from typing import Any

from companion.container import Services
from tests.support.app import Api, csrf_of, web_client

MENTORS = [
    {
        "id": "rosa",
        "name": "Rosa Reyes",
        "role": "mentor",
        "timezone": "Europe/London",
        "languages": "english",
        "skills": "rtos; embedded c",
        "expertise": "I tune RTOS scheduling in embedded C firmware.",
    },
    {
        "id": "tom",
        "name": "Tom Tran",
        "role": "mentor",
        "timezone": "Europe/London",
        "languages": "english",
        "skills": "public speaking",
        "expertise": "I coach people who present to large audiences.",
    },
]


def load_mentors(services: Services) -> None:
    report = services.people.import_rows(list(enumerate(MENTORS, start=1)))
    assert report.failed == []


def mentee_form(csrf: str, **overrides: str) -> dict[str, Any]:
    return {
        "csrf_token": csrf,
        "name": "Mia Mentee",
        "text": "I want to understand RTOS scheduling well enough to fix timing bugs.",
        "skills": "rtos",
        "languages": "english; portuguese",
        "timezone": "Europe/Lisbon",
        "department": "",
        "site": "different",
        **overrides,
    }


def test_a_mentee_fills_in_a_profile_and_sees_recommended_mentors_at_once(api: Api) -> None:
    load_mentors(api.services)
    client = web_client(api, "mentee")
    before = client.get("/mentee/mentors")
    assert 'id="no-profile"' in before.text and 'href="/profile"' in before.text
    page = client.get("/profile")
    assert page.status_code == 200 and 'id="profile-form"' in page.text
    assert "<code>rtos</code>" in page.text  # skills in use are suggested
    assert 'option value="Europe/Lisbon"' in page.text  # the time zone picker

    saved = client.post("/profile", data=mentee_form(csrf_of(page.text)))
    assert saved.status_code == 303 and saved.headers["location"] == "/mentee/mentors?done=profile"
    mentors = client.get(saved.headers["location"])
    assert "Profile saved" in mentors.text and 'id="recommendations"' in mentors.text
    assert mentors.text.index("Rosa Reyes") < mentors.text.index("Tom Tran")  # the RTOS mentor first

    me = api.client.get("/v1/people/me", headers=api.auth("mentee")).json()
    assert me["goals"].startswith("I want to understand RTOS")
    assert me["languages"] == ["english", "portuguese"]
    assert me["preferences"] == {"mentors": [], "avoid": [], "department": None, "site": "different"}
    assert me["department"] is None and me["user"] == "mentee1"

    again = client.get("/profile")
    assert "I want to understand RTOS scheduling" in again.text and 'value="different" selected' in again.text
    edited = client.post("/profile", data=mentee_form(csrf_of(again.text), skills="public speaking"))
    assert edited.status_code == 303
    assert api.client.get("/v1/people/me", headers=api.auth("mentee")).json()["skills"] == ["public speaking"]


def test_bad_profile_input_is_a_clear_error_with_the_typed_values_kept(api: Api) -> None:
    client = web_client(api, "mentee")
    csrf = csrf_of(client.get("/profile").text)
    bad = client.post("/profile", data=mentee_form(csrf, timezone="Mars/Olympus"))
    assert bad.status_code == 422 and "unknown time zone" in bad.text
    assert "I want to understand RTOS scheduling" in bad.text  # nothing typed is lost
    none = client.post("/profile", data=mentee_form(csrf, languages=""))
    assert none.status_code == 422 and "language" in none.text
    assert api.client.get("/v1/people/me", headers=api.auth("mentee")).status_code == 404  # nothing saved
    forged = client.post("/profile", data=mentee_form("forged"))
    assert forged.status_code == 403
    assert api.client.get("/v1/people/me", headers=api.auth("mentee")).status_code == 404


def test_a_mentor_sets_capacity_within_the_default_and_admins_have_no_profile_page(api: Api) -> None:
    client = web_client(api, "mentor")
    csrf = csrf_of(client.get("/profile").text)
    form = {
        "csrf_token": csrf,
        "text": "I help with code review and testing strategy.",
        "skills": "code review; testing",
        "languages": "english",
        "timezone": "UTC+05:30",
    }
    too_many = client.post("/profile", data={**form, "capacity": "5"})
    assert too_many.status_code == 403 and "program admin" in too_many.text
    saved = client.post("/profile", data={**form, "capacity": "1"})
    assert saved.status_code == 303 and saved.headers["location"] == "/profile?saved=1"
    page = client.get("/profile?saved=1")
    assert "Profile saved." in page.text and 'value="1"' in page.text
    assert api.client.get("/v1/people/me", headers=api.auth("mentor")).json()["capacity"] == 1
    admin = web_client(api, "admin")
    assert admin.get("/profile").status_code == 403


def test_put_my_profile_creates_then_edits_it(api: Api) -> None:
    body = {"goals": "Get better at estimating work.", "languages": ["english"], "timezone": "Europe/Paris"}
    created = api.client.put("/v1/people/me", headers=api.auth("mentee"), json=body)
    assert created.status_code == 200, created.text
    assert created.json()["key"] == "mentee1" and created.json()["role"] == "mentee"
    locked = api.client.put("/v1/people/me", headers=api.auth("mentee"), json={"department": "Sales"})
    assert locked.status_code == 422  # organization fields are not part of one's own profile
    edited = api.client.put("/v1/people/me", headers=api.auth("mentee"), json={"bio": "Hello."})
    assert edited.json()["bio"] == "Hello." and edited.json()["goals"] == "Get better at estimating work."
    assert api.client.put("/v1/people/me", headers=api.auth("admin"), json=body).status_code == 403
    skills = api.client.get("/v1/people/skills", headers=api.auth("mentee"))
    assert skills.status_code == 200 and skills.json() == []
