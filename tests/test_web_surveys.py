"""Survey pages: "Surveys for you" on the mentee's and mentor's home, answering (refused input shown again,
the thank-you, a second submit), the signed-out personal link, and the admin pages (create, edit the
questions, results only as aggregates, the contact requests with the nav badge and the handled button)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from companion.container import Services
from companion.identity.auth import Principal, Role, authenticate, create_user
from companion.program import invitations
from companion.program.surveys import AnswerIn, SurveyIn
from companion.storage.db import Person
from tests.support.app import Api, csrf_of, make_api, make_settings, web_client


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    services = Services(make_settings(tmp_path, program={"survey_min_answers": 2}))
    services.db.create_tables()
    yield from make_api(services)
    services.close()


def _principal(api: Api, role: str) -> Principal:
    with api.services.db.session() as session:
        return authenticate(session, api.tokens[role])


def _survey(api: Api, **fields: object) -> int:
    return api.services.surveys.create(SurveyIn.model_validate({"kind": "mid", **fields})).id


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_mentee_answers_from_the_home_page(api: Api) -> None:
    survey_id = _survey(api, audience="mentee")
    client = web_client(api, "mentee")
    home = client.get("/mentee")
    assert 'id="surveys-for-you"' in home.text and f'href="/surveys/{survey_id}"' in home.text
    form = client.get(f"/surveys/{survey_id}")
    assert form.status_code == 200 and 'id="survey-form"' in form.text
    assert 'name="q_relationship" value="5"' in form.text and 'name="q_going_well"' in form.text
    csrf = csrf_of(form.text)

    refused = client.post(
        f"/surveys/{survey_id}",
        data={
            "csrf_token": csrf,
            "q_relationship": "7",
            "q_going_well": "We meet every week.",
            "contact": "on",
        },
    )
    assert refused.status_code == 422
    assert "choose a rating from 1 to 5" in text_of(refused.text)
    assert "We meet every week.</textarea>" in refused.text, "the typed text is shown again"
    assert 'id="contact-box" name="contact" checked' in refused.text

    no_csrf = client.post(f"/surveys/{survey_id}", data={"q_relationship": "4"})
    assert no_csrf.status_code == 403

    done = client.post(
        f"/surveys/{survey_id}",
        data={
            "csrf_token": csrf,
            "q_relationship": "4",
            "q_rhythm": "",
            "q_going_well": "We meet every week.",
        },
    )
    assert done.status_code == 200 and 'id="survey-thanks"' in done.text
    assert 'id="contact-confirmed"' not in done.text
    assert "answered, thank you" in client.get("/mentee").text
    again = client.post(f"/surveys/{survey_id}", data={"csrf_token": csrf, "q_relationship": "1"})
    assert again.status_code == 409 and 'id="already-answered"' in again.text
    assert 'id="survey-form"' not in client.get(f"/surveys/{survey_id}").text


def test_mentor_home_lists_surveys_and_others_are_refused(api: Api) -> None:
    both = _survey(api)
    mentees_only = _survey(api, audience="mentee", title="Mentees only")
    mentor = web_client(api, "mentor")
    home = mentor.get("/mentor").text
    assert f'href="/surveys/{both}"' in home and f'href="/surveys/{mentees_only}"' not in home
    assert mentor.get(f"/surveys/{mentees_only}").status_code == 403
    admin = web_client(api, "admin")
    assert admin.get(f"/surveys/{both}").status_code == 403
    assert TestClient(api.client.app, follow_redirects=False).get(f"/surveys/{both}").status_code == 303
    assert mentor.get("/surveys/424242").status_code == 404


def test_personal_link_works_signed_out_and_only_once(api: Api) -> None:
    survey_id = _survey(api, audience="mentee")
    mentee = _principal(api, "mentee")
    with api.services.db.session() as session:
        session.add(Person(key="sam", name="Sam Mentee", role="mentee", timezone="UTC", user_id=mentee.id))
        token = invitations.issue(session, survey_id=survey_id, user_id=mentee.id)
    anonymous = TestClient(api.client.app, follow_redirects=False)
    page = anonymous.get(f"/surveys/answer/{token}")
    assert page.status_code == 200 and "This survey is for Sam Mentee" in text_of(page.text)
    assert 'action="/surveys/answer/' in page.text and "csrf_token" not in page.text
    assert "Sign out" not in page.text, "signed out: no nav, only this survey"
    bad = anonymous.post(f"/surveys/answer/{token}", data={"q_rhythm": "zero", "contact_note": "hello"})
    assert bad.status_code == 422 and "choose a rating from 1 to 5" in text_of(bad.text)
    done = anonymous.post(
        f"/surveys/answer/{token}", data={"q_rhythm": "3", "contact": "on", "contact_note": "Please call."}
    )
    assert done.status_code == 200 and 'id="contact-confirmed"' in done.text
    again = anonymous.post(f"/surveys/answer/{token}", data={"q_rhythm": "5"})
    assert again.status_code == 409 and "already answered" in text_of(again.text)
    assert 'id="already-answered"' in anonymous.get(f"/surveys/answer/{token}").text
    assert anonymous.get("/surveys/answer/not-a-real-token").status_code == 404
    assert anonymous.post("/surveys/answer/not-a-real-token", data={}).status_code == 404
    contacts = api.services.surveys.contact_requests()
    assert [(c.name, c.note) for c in contacts] == [("Sam Mentee", "Please call.")]


def test_admin_creates_edits_and_reads_results(api: Api) -> None:
    admin = web_client(api, "admin")
    listing = admin.get("/admin/surveys")
    assert listing.status_code == 200 and 'id="no-surveys"' in listing.text
    assert '<a href="/admin/surveys" aria-current="page">Surveys</a>' in listing.text
    csrf = csrf_of(listing.text)
    refused = admin.post(
        "/admin/surveys",
        data={
            "csrf_token": csrf,
            "kind": "mid",
            "opens_on": "2026-05-10",
            "closes_on": "2026-05-01",
            "title": "Kept",
        },
    )
    assert refused.status_code == 422 and "closing day must not be before" in text_of(refused.text)
    assert 'value="Kept"' in refused.text
    created = admin.post("/admin/surveys", data={"csrf_token": csrf, "kind": "mid", "audience": "both"})
    assert created.status_code == 303
    url = created.headers["location"].split("?")[0]
    survey_id = int(url.rsplit("/", 1)[1])
    page = admin.get(created.headers["location"])
    assert "Survey created with the default questions" in page.text
    assert "Results appear once 2 people have answered (0 so far)." in text_of(page.text)
    rows = int(re.search(r'name="rows" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    assert rows == 5 + 2  # the default questions and two blank rows

    # reorder (the last question first), remove one, add one with a key made from its text
    form = {
        "csrf_token": csrf,
        "title": "Spring check-in",
        "audience": "both",
        "opens_on": "",
        "closes_on": "",
        "rows": "7",
    }
    survey = api.services.surveys.get(survey_id)
    for i, q in enumerate(survey.questions):
        form |= {f"q{i}_key": q.key, f"q{i}_text": q.text, f"q{i}_type": q.type, f"q{i}_position": str(i + 1)}
    form |= {"q4_position": "0", "q1_remove": "on", "q5_text": "Anything else to tell us?", "q5_type": "text"}
    saved = admin.post(url, data=form)
    assert saved.status_code == 303, saved.text
    after = api.services.surveys.get(survey_id)
    assert after.title == "Spring check-in"
    assert [q.key for q in after.questions] == [
        "change",
        "relationship",
        "goal_progress",
        "going_well",
        "anything_else_to_tell_us",
    ]

    bad = admin.post(url, data={**form, "q0_position": "first"})
    assert bad.status_code == 422 and "the order must be a whole number" in text_of(bad.text)

    # two answers: results appear, and the questions' keys and types are frozen
    for role in ("mentee", "mentor"):
        api.services.surveys.answer(
            _principal(api, role), survey_id, AnswerIn(answers={"relationship": 4 if role == "mentee" else 2})
        )
    page = admin.get(url).text
    assert 'id="frozen-note"' in page and "2 people have answered." in text_of(page)
    assert "Mean 3.00 of 2 ratings." in text_of(page) and '<svg class="chart"' in page
    assert 'id="by-audience-message"' in page  # one mentee and one mentor: not shown apart
    assert "mentee1" not in page.split('id="results"')[1].split('id="edit"')[0], "no names in results"
    removed = admin.post(url, data={**form, "q1_remove": "", "q0_remove": "on"})
    assert removed.status_code == 409 and "keep their keys and types" in text_of(removed.text)

    deleted = admin.post(f"{url}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and admin.get(url).status_code == 404


def test_contact_requests_badge_and_handled_button(api: Api) -> None:
    survey_id = _survey(api)
    mentor = _principal(api, "mentor")
    with api.services.db.session() as session:
        other, _ = create_user(session, name="mentee7", role=Role.mentee)
    api.services.surveys.answer(
        mentor, survey_id, AnswerIn(contact_requested=True, contact_note="My mentee left.")
    )
    api.services.surveys.answer(
        Principal(other.id, "mentee7", Role.mentee), survey_id, AnswerIn(contact_requested=True)
    )
    admin = web_client(api, "admin")
    page = admin.get("/admin/knowledge").text
    assert re.search(r'id="badge-admin-surveys">2<span class="sr-only"> contact requests waiting', page)
    listing = admin.get("/admin/surveys").text
    assert "mentor1" in listing and "My mentee left." in listing and "(no note)" in listing
    response_id = api.services.surveys.contact_requests()[-1].response_id
    done = admin.post(f"/admin/surveys/contacts/{response_id}/handled", data={"csrf_token": csrf_of(listing)})
    assert done.status_code == 303
    after = admin.get(done.headers["location"]).text
    assert "Contact request marked as handled." in after
    assert re.search(r'id="badge-admin-surveys">1<', after)
    assert (
        admin.post("/admin/surveys/contacts/99999/handled", data={"csrf_token": csrf_of(listing)}).status_code
        == 404
    )
    mentee = web_client(api, "mentee")
    assert mentee.get("/admin/surveys").status_code == 403
    assert 'class="badge"' not in mentee.get("/mentee").text


def _unlabelled(page: str) -> list[str]:
    """Form fields (not hidden) with no <label for=...> and not wrapped in a <label>."""
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', page))
    wrapped = [m.span() for m in re.finditer(r"<label(?![^>]*\sfor=)[^>]*>.*?</label>", page, re.S)]
    missing = []
    for match in re.finditer(r"<(input|select|textarea)\b([^>]*)>", page):
        attrs = match.group(2)
        if 'type="hidden"' in attrs:
            continue
        found = re.search(r'\sid="([^"]+)"', attrs)
        inside = any(start < match.start() < end for start, end in wrapped)
        if not inside and (found is None or found.group(1) not in labelled):
            missing.append(match.group(0)[:100])
    return missing


def test_every_survey_form_field_has_a_label(api: Api) -> None:
    survey_id = _survey(api)
    api.services.surveys.answer(_principal(api, "mentor"), survey_id, AnswerIn(answers={"relationship": 3}))
    mentee, admin = web_client(api, "mentee"), web_client(api, "admin")
    pages = {
        "answer": mentee.get(f"/surveys/{survey_id}").text,
        "admin list": admin.get("/admin/surveys").text,
        "admin survey (answered)": admin.get(f"/admin/surveys/{survey_id}").text,
    }
    assert 'id="survey-form"' in pages["answer"] and 'id="frozen-note"' in pages["admin survey (answered)"]
    for name, page in pages.items():
        assert _unlabelled(page) == [], name
