"""Each role's main path end to end, in a real browser, with the embedded model.

The tests run in file order and build on each other, as a program would be set up: the admin creates the
accounts, uploads a guide, loads a demo organization, imports the two new people and publishes a cohort
match that pairs them; the
new mentee then drafts and saves a goal, prepares a session, sees their mentors and asks the handbook;
the new mentor sees the mentee's goal and coaches a piece of feedback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.app import KNOWLEDGE
from tests.support.browser import MODEL_TIMEOUT_MS, PHONE, SEED_GUIDES, UPLOADED_GUIDE, Accounts, Server

MAYA = "maya.silva@larkfield.example"
OMAR = "omar.haddad@larkfield.example"
# a mentee of the demo organization (seed 7, 40 people), matched in the same run as Maya
DEMO_MENTEE = "daniel.patel@larkfield.example"
PEOPLE_CSV = "\n".join(
    [
        "email,name,role,department,site,timezone,languages,skills,expertise,goals,capacity,user",
        f"{MAYA},Maya Silva,mentee,Product Design,Lisbon,Europe/Lisbon,english; portuguese,"
        "presenting to executives; stakeholder management,,"
        "I want to present design reviews to senior leaders with confidence and handle tough questions.,,"
        "maya",
        f"{OMAR},Omar Haddad,mentor,Cloud Platform,Leeds,Europe/London,english; arabic,"
        "presenting to executives; stakeholder management; people management,"
        "I present our platform roadmap to the executive team every quarter and coach people on handling "
        "hard questions.,,2,omar",
        # row 4 is refused (the row report names it); the two good rows are kept
        "mars.rover@larkfield.example,Mars Rover,mentee,Product Design,Lisbon,Mars/Olympus,english,"
        "presenting to executives,,I want to explore.,,",
    ]
)


@pytest.fixture(scope="module")
def story() -> dict[str, Any]:
    """What earlier steps leave for later ones (the saved goal, the run id)."""
    return {}


def _user(server: Server, accounts: Accounts, role: str) -> tuple[str, str]:
    if role == "admin":
        return ("admin", server.admin_password)
    return (accounts.names[role], accounts.passwords[role])


def _timed(server: Server, label: str, started: float) -> None:
    server.timings[label] = time.monotonic() - started


# ---- admin ---------------------------------------------------------------------------------------------


def test_admin_created_the_mentee_and_mentor_accounts_in_the_browser(
    server: Server, accounts: Accounts, open_session: Any
) -> None:
    s = open_session(as_user=_user(server, accounts, "admin"))
    s.goto("/admin/users")
    rows = s.page.locator("table tbody tr")
    table = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(rows.count())
    }
    assert table == {"admin": "admin", "maya": "mentee", "omar": "mentor"}
    s.screenshot("admin-users-desktop")


def test_admin_uploads_a_guide_with_progress_and_sees_it_listed(
    server: Server, accounts: Accounts, open_session: Any
) -> None:
    s = open_session(as_user=_user(server, accounts, "admin"))
    s.goto("/admin/knowledge")
    listed = s.page.locator("#guide-list tbody tr")
    assert sorted(listed.evaluate_all("rows => rows.map(r => r.dataset.source)")) == sorted(SEED_GUIDES)
    s.page.set_input_files("#guide-file", str(KNOWLEDGE / UPLOADED_GUIDE))
    started = time.monotonic()
    s.page.click("#upload-button")
    # the page's script sends the file with a progress bar, then swaps in the server's answer (no reload)
    notice = s.page.locator("p.notice")
    notice.wait_for(timeout=MODEL_TIMEOUT_MS)
    _timed(server, "upload and ingest (s)", started)
    assert notice.inner_text().startswith(f"Added {UPLOADED_GUIDE}:")
    assert s.path() == "/admin/knowledge"
    assert "1 added" in " ".join(s.page.locator("#ingest-result ul.counts").inner_text().split())
    row = s.page.locator(f'#guide-list tr[data-source="{UPLOADED_GUIDE}"]')
    assert row.count() == 1 and "Recognizing Mentors" in row.inner_text()
    assert int(row.locator("td").nth(2).inner_text()) > 0  # chunks
    assert s.page.locator("#guide-list tbody tr").count() == len(SEED_GUIDES) + 1
    # focus went to the result, so a screen reader user hears what happened
    assert s.page.evaluate("document.activeElement.id") == "ingest-result"
    s.screenshot("admin-knowledge-uploaded-desktop")


def test_admin_loads_demo_people_then_imports_two_more_with_a_row_report(
    server: Server, accounts: Accounts, open_session: Any, tmp_path: Path
) -> None:
    s = open_session(as_user=_user(server, accounts, "admin"))
    s.goto("/admin/people")
    assert s.page.locator("#no-people").is_visible()
    # a small demo organization to match against
    s.page.fill("#demo-seed", "7")
    s.page.fill("#demo-size", "40")
    started = time.monotonic()
    s.submit("#demo-button", MODEL_TIMEOUT_MS)
    _timed(server, "demo people (s)", started)
    assert "40 created" in " ".join(s.page.locator("#import-report ul.counts").inner_text().split())

    # then the two new people, linked to the new accounts, and one bad row
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE_CSV)
    s.page.set_input_files("#people-file", str(people))
    s.submit("#import-button", MODEL_TIMEOUT_MS)
    counts = " ".join(s.page.locator("#import-report ul.counts").inner_text().split())
    assert "2 created" in counts and "1 failed (skipped)" in counts and "2 profiles embedded" in counts
    failed = s.page.locator("#import-rows tr.row-failed")
    assert failed.count() == 1
    cells = failed.locator("td").all_inner_texts()
    assert cells[0] == "4" and "unknown time zone 'Mars/Olympus'" in cells[3]
    s.screenshot("admin-people-import-desktop")
    s.goto("/admin/people?role=mentor")
    assert "omar" in s.page.locator("#people-list").inner_text()


def test_admin_runs_a_cohort_match_pins_forbids_and_publishes(
    server: Server, accounts: Accounts, open_session: Any, story: dict[str, Any]
) -> None:
    s = open_session(as_user=_user(server, accounts, "admin"))
    s.goto("/admin/matching")
    s.page.fill("#run-mentees", f"{MAYA}\n{DEMO_MENTEE}")
    s.page.fill("#run-pins", f"{MAYA} = {OMAR}")
    s.submit("#run-button")
    assert s.page.locator("#review-title").inner_text() == "Review: Run 1"
    assert s.page.locator("#review-summary").inner_text().startswith("Matched 2 of 2 mentees")
    maya_row = s.page.locator(f'#match-list tr[data-mentee="{MAYA}"]')
    assert maya_row.get_attribute("data-mentor") == OMAR and "pinned" in maya_row.inner_text()
    demo_row = s.page.locator(f'#match-list tr[data-mentee="{DEMO_MENTEE}"]')
    assert demo_row.count() == 1, "the demo mentee should get a mentor in the first run"
    first_mentor = demo_row.get_attribute("data-mentor")
    s.screenshot("admin-matching-run-desktop")

    # forbid the demo mentee's proposed pair (tick it, keyboard-style) and run again
    demo_row.locator("input[name=forbid]").check()
    s.submit("#rerun-button")
    assert s.page.locator("#review-title").inner_text() == "Review: Run 2"
    forbidden = f'#match-list tr[data-mentee="{DEMO_MENTEE}"][data-mentor="{first_mentor}"]'
    assert s.page.locator(forbidden).count() == 0
    assert s.page.input_value("#run-forbids") == f"{DEMO_MENTEE} = {first_mentor}"
    assert s.page.locator(f'#match-list tr[data-mentee="{MAYA}"]').get_attribute("data-mentor") == OMAR

    # publish (the page asks to confirm; the user says yes): Maya and Omar become a mentorship
    s.submit("#publish-button")
    notice = s.page.locator("p.notice").inner_text()
    assert notice.startswith("Published run 2:") and "1 linked as mentorships" in notice, notice
    maya_row = s.page.locator(f'#match-list tr[data-mentee="{MAYA}"]')
    assert "accepted" in maya_row.inner_text() and "(mentorship)" in maya_row.inner_text()
    s.screenshot("admin-matching-published-desktop")
    story["published"] = True


# ---- mentee --------------------------------------------------------------------------------------------


def test_new_mentee_signs_in_drafts_goals_with_the_assistant_and_saves_one(
    server: Server, accounts: Accounts, open_session: Any, story: dict[str, Any]
) -> None:
    s = open_session()
    s.sign_in(accounts.names["mentee"], accounts.passwords["mentee"])
    assert s.path() == "/mentee"
    assert s.page.locator("#no-goals").is_visible()
    s.page.fill("#draft-aspiration", "Present my design reviews to senior leaders with confidence")
    s.page.fill("#draft-context", "Product designer in Lisbon; I freeze when directors ask hard questions.")
    s.page.select_option("#draft-count", "2")
    started = time.monotonic()
    s.submit("#draft-submit", MODEL_TIMEOUT_MS)
    _timed(server, "draft goals (s)", started)
    assert s.page.locator("#drafts").is_visible()
    drafts = s.page.locator("fieldset.draft")
    assert 1 <= drafts.count() <= 2
    grounded = s.page.locator("#drafts .flag", has_text="Grounded draft")
    story["goal_origin"] = "grounded" if grounded.count() else "model"
    # every draft cites guide sections that open in the guide viewer
    assert s.page.locator("#draft-0 .cites a").count() >= 1
    s.screenshot("mentee-goals-drafts-desktop")

    # keep only the first draft, sharpen its wording, save
    for i in range(1, drafts.count()):
        s.page.uncheck(f"#draft-pick-{i}")
    statement = "Present one design review to the directors' forum by the end of the quarter"
    s.page.fill("#draft-statement-0", statement)
    s.submit("#save-drafts")
    assert s.path() == "/mentee"
    assert s.page.locator("p.notice").inner_text() == "Saved the selected goals."
    saved = s.page.locator(".goal-list > li")
    assert saved.count() == 1 and saved.locator("h3").inner_text() == statement
    story["goal"] = statement
    s.screenshot("mentee-goals-saved-desktop")


def test_mentee_prepares_a_session_agenda(
    server: Server, accounts: Accounts, open_session: Any, story: dict[str, Any]
) -> None:
    s = open_session(as_user=_user(server, accounts, "mentee"))
    s.goto("/mentee/prepare")
    assert "1 active goal" in s.page.locator("#prep-form").inner_text()
    s.page.fill("#prep-length", "30")
    started = time.monotonic()
    s.submit("#prep-submit", MODEL_TIMEOUT_MS)
    _timed(server, "prepare session (s)", started)
    assert s.page.locator("#agenda-title").inner_text() == "Agenda for 30 minutes"
    items = s.page.locator("ol.agenda > li")
    assert items.count() >= 2
    minutes = [int(t.split()[0]) for t in s.page.locator("ol.agenda .minutes").all_inner_texts()]
    assert sum(minutes) == 30
    assert s.page.locator("#agenda-total").inner_text().startswith("Total: 30 minutes")
    assert s.page.locator("#questions").is_visible()
    s.screenshot("mentee-prepare-agenda-desktop")


def test_mentee_sees_recommended_mentors_with_reasons_and_the_published_match(
    server: Server, accounts: Accounts, open_session: Any, story: dict[str, Any]
) -> None:
    s = open_session(as_user=_user(server, accounts, "mentee"))
    s.goto("/mentee/mentors")
    first = s.page.locator("#rec-1")
    assert first.is_visible()
    assert first.locator("p.reason").inner_text().startswith("Why:")
    assert s.page.locator("ol.recs > li").count() >= 2
    # the published match with Omar shows as accepted (run 1's proposal of the same pair was withdrawn)
    with_omar = s.page.locator("ul.matches > li", has_text="Omar Haddad").all_inner_texts()
    statuses = [" ".join(text.split()) for text in with_omar]
    assert any("Status: accepted (you and your mentor are linked)" in text for text in statuses), statuses
    s.screenshot("mentee-mentors-desktop")


def test_mentee_asks_the_handbook_sees_the_answer_stream_and_opens_a_citation(
    server: Server, accounts: Accounts, open_session: Any
) -> None:
    s = open_session(as_user=_user(server, accounts, "mentee"))
    s.goto("/ask")
    # record what the answer area shows: the grounded draft arrives over the event stream, then the final
    # (checked) answer replaces it; no unchecked model text is ever written there
    s.page.evaluate(
        """() => {
             window.__answerStates = [];
             const answer = document.getElementById('ask-answer');
             new MutationObserver(() => window.__answerStates.push(answer.textContent.length))
               .observe(answer, {childList: true, characterData: true, subtree: true});
           }"""
    )
    s.page.fill("#ask-question", "How often do mentoring sessions happen and how long are they?")
    started = time.monotonic()
    s.page.click("#ask-submit")
    s.page.locator("#ask-citations li").first.wait_for(timeout=MODEL_TIMEOUT_MS)
    done = "() => !document.querySelector('#ask-submit').disabled"
    s.page.wait_for_function(done, timeout=MODEL_TIMEOUT_MS)
    _timed(server, "ask, streamed (s)", started)
    assert s.path() == "/ask"  # no page load: the answer came over the event stream
    states: list[int] = s.page.evaluate("window.__answerStates")
    grown = [n for n in states if n > 0]
    assert grown, f"the grounded draft was not shown: {states}"
    assert s.page.locator("#ask-error").is_hidden()
    answer = s.page.locator("#ask-answer").inner_text()
    assert len(answer) > 20
    s.screenshot("ask-answer-desktop")

    link = s.page.locator("#ask-answer a.marker").first
    if link.count() == 0:  # no [n] marker in the text: the sources list links the same sections
        link = s.page.locator("#ask-citations a").first
    target = link.get_attribute("href") or ""
    assert target.startswith("/guides/view?source=")
    with s.page.expect_navigation():
        link.click()
    assert s.path() == "/guides/view"
    cited = s.page.locator("mark#cited")
    assert cited.is_visible() and len(cited.inner_text()) > 20
    assert s.page.evaluate("document.activeElement.id") == "cited"
    s.screenshot("guide-view-desktop")


# ---- mentor --------------------------------------------------------------------------------------------


def test_new_mentor_signs_in_and_sees_the_mentees_goals(
    server: Server, accounts: Accounts, open_session: Any, story: dict[str, Any]
) -> None:
    assert story.get("published") and story.get("goal"), "needs the admin's published match and a saved goal"
    s = open_session()
    s.sign_in(accounts.names["mentor"], accounts.passwords["mentor"])
    assert s.path() == "/mentor"
    mentee = s.page.locator("section.mentee")
    assert mentee.count() == 1
    assert "Maya Silva" in mentee.locator("h2").inner_text()
    assert story["goal"] in mentee.locator(".goal-list").inner_text()
    s.screenshot("mentor-mentees-desktop")


def test_mentor_feedback_coach_shows_draft_and_rewrite_side_by_side(
    server: Server, accounts: Accounts, open_session: Any
) -> None:
    s = open_session(as_user=_user(server, accounts, "mentor"))
    s.goto("/mentor/feedback")
    draft = "Your demo was a mess and you always talk too fast."
    s.page.fill("#fb-draft", draft)
    s.page.fill("#fb-context", "Maya, after Tuesday's design review with the directors.")
    started = time.monotonic()
    s.submit("#fb-submit", MODEL_TIMEOUT_MS)
    _timed(server, "feedback coach (s)", started)
    original, rewrite = s.page.locator("#fb-original"), s.page.locator("#fb-rewrite")
    assert original.inner_text() == draft
    assert rewrite.inner_text().strip() and rewrite.inner_text() != draft
    left, right = original.bounding_box(), rewrite.bounding_box()
    assert left and right
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 5, (left, right)
    # what changed: the word diff marks additions and removals, and each change has a reason
    diff = s.page.locator("#fb-diff")
    assert diff.locator("mark.changed").count() + diff.locator("del").count() > 0
    assert s.page.locator("#fb-parts dd").count() == 4
    assert s.page.locator("#fb-changes").is_visible()
    flagged = s.page.locator("#fb-flags")
    assert flagged.count() == 1 and "always" in flagged.inner_text()  # the absolute word is called out
    if s.page.locator("#fb-grounded").count():
        assert s.page.locator("#fb-grounded .flag").inner_text() == "Grounded draft"
    s.screenshot("mentor-feedback-desktop")

    # at phone width the two columns stack, and nothing is wider than the screen
    s.page.set_viewport_size(PHONE)
    left, right = original.bounding_box(), rewrite.bounding_box()
    assert left and right and right["y"] >= left["y"] + left["height"]
    assert s.overflow()["excess"] <= 0, s.overflow()
    s.screenshot("mentor-feedback-phone")
