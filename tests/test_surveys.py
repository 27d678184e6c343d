"""Participant surveys: the rules (aggregates only above the threshold, once per person, personal links,
question edits once answered, contact requests, validation), the JSON API and the CLI, on SQLite and,
when configured, PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.container import Services
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role, create_user, link_mentorship
from companion.program import invitations
from companion.program.surveys import (
    AnswerIn,
    Question,
    SurveyIn,
    SurveyService,
    SurveyUpdate,
    aggregate,
    default_questions,
    key_from_text,
    validate_answers,
)
from companion.settings import ProgramSettings, Settings
from companion.storage.db import Cycle, CycleMentorship, Milestone, Person, Program, SurveyResponse
from tests.support.app import make_api, make_settings

TODAY = date(2026, 5, 4)
QUESTIONS = [
    Question(key="useful", text="How useful is your mentoring?", type="rating"),
    Question(key="rhythm", text="How regular are your sessions?", type="rating"),
    Question(key="best", text="What went best?", type="text"),
]


@dataclass
class World:
    services: Services
    surveys: SurveyService
    mentees: list[Principal]
    mentors: list[Principal]
    admin: Principal


def _world(settings: Settings, *, people: int = 6, min_answers: int = 5) -> World:
    services = Services(settings)
    services.db.create_tables()
    program = ProgramSettings(survey_min_answers=min_answers)
    surveys = SurveyService(db=services.db, settings=program, today=lambda: TODAY)
    mentees, mentors = [], []
    with services.db.session() as session:
        admin, _ = create_user(session, name="admin1", role=Role.admin)
        for i in range(people):
            mentee, _ = create_user(session, name=f"mentee{i}", role=Role.mentee)
            mentor, _ = create_user(session, name=f"mentor{i}", role=Role.mentor)
            session.add(
                Person(
                    key=f"p-mentee{i}",
                    name=f"Mentee Number{i}",
                    role="mentee",
                    timezone="UTC",
                    user_id=mentee.id,
                )
            )
            mentees.append(Principal(mentee.id, mentee.name, Role.mentee))
            mentors.append(Principal(mentor.id, mentor.name, Role.mentor))
        admin_principal = Principal(admin.id, admin.name, Role.admin)
    return World(services, surveys, mentees, mentors, admin_principal)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _world(make_settings(tmp_path))
    yield w
    w.services.close()


def _survey(w: World, **fields: object) -> int:
    data = {"kind": "mid", "questions": [q.model_dump() for q in QUESTIONS], **fields}
    return w.surveys.create(SurveyIn.model_validate(data)).id


def _answer(w: World, who: Principal, survey_id: int, **answers: int | str | None) -> None:
    w.surveys.answer(who, survey_id, AnswerIn(answers=answers))


# ---- default questions and keys ----------------------------------------------------------------------


def test_default_questions_are_a_sensible_start_for_each_kind() -> None:
    for kind in ("mid", "end"):
        questions = default_questions(kind)
        keys = [q.key for q in questions]
        assert len(keys) == len(set(keys)) >= 4
        assert {q.type for q in questions} == {"rating", "text"}
    assert "second half" in " ".join(q.text for q in default_questions("mid"))
    with pytest.raises(InvalidInput, match="use mid or end"):
        default_questions("weekly")


def test_keys_made_from_question_texts_are_valid_and_unique() -> None:
    assert key_from_text("How is it going, really?") == "how_is_it_going_really"
    assert key_from_text("How is it going?", ["how_is_it_going"]) == "how_is_it_going_2"
    assert key_from_text("42 things") == "q_42_things"
    assert key_from_text("???") == "question"


def test_a_new_survey_gets_the_default_questions_and_a_title(world: World) -> None:
    created = world.surveys.create(SurveyIn(kind="end"))
    assert created.title == "End-of-cycle survey"
    assert [q.key for q in created.questions] == [q.key for q in default_questions("end")]
    assert created.opens_on is None and created.closes_on is None and created.is_open
    assert created.answers == 0


# ---- aggregates -------------------------------------------------------------------------------------


def test_results_stay_hidden_below_the_threshold_then_show_exact_counts(world: World) -> None:
    survey_id = _survey(world)
    ratings = [5, 4, 4, 2]
    for who, rating in zip(world.mentees, ratings, strict=False):
        _answer(world, who, survey_id, useful=rating, best=f"answer of {who.name}")
    hidden = world.surveys.results(survey_id)
    assert hidden.answers == 4 and not hidden.shown
    assert hidden.message == "Results appear once 5 people have answered (4 so far)."
    assert all(q.counts is None and q.mean is None and q.texts is None for q in hidden.questions)
    assert [q.answered for q in hidden.questions] == [4, 0, 4]

    _answer(world, world.mentees[4], survey_id, useful=1, rhythm=3, best="Zebra crossings")
    shown = world.surveys.results(survey_id)
    assert shown.answers == 5 and shown.shown and shown.message == "5 people have answered."
    useful, rhythm, best = shown.questions
    assert useful.shown and useful.counts == {1: 1, 2: 1, 3: 0, 4: 2, 5: 1} and useful.mean == 3.2
    # only one person rated the rhythm: that question waits for five answers of its own
    assert not rhythm.shown and rhythm.answered == 1 and rhythm.counts is None
    # free texts: alphabetical, so their order says nothing about who wrote them or when
    assert best.texts == sorted(best.texts or [], key=str.casefold)
    assert best.texts is not None and best.texts[-1] == "Zebra crossings" and len(best.texts) == 5


def test_results_never_carry_names_or_user_ids(world: World) -> None:
    survey_id = _survey(world)
    for who in world.mentees[:5]:
        _answer(world, who, survey_id, useful=3, best="fine")
    dumped = world.surveys.results(survey_id).model_dump_json()
    for who in world.mentees:
        assert who.name not in dumped and f"Number{who.id}" not in dumped
    assert '"user_id"' not in dumped


def test_per_audience_breakdown_only_when_each_group_reaches_n(tmp_path: Path) -> None:
    w = _world(make_settings(tmp_path), people=3, min_answers=2)
    survey_id = _survey(w, audience="both")
    for who in w.mentees[:2]:
        _answer(w, who, survey_id, useful=5)
    _answer(w, w.mentors[0], survey_id, useful=1)
    partial = w.surveys.results(survey_id)
    assert partial.shown and partial.by_audience is None
    assert partial.by_audience_message == (
        "Mentors and mentees are shown apart once each group has 2 answers (2 mentees, 1 mentors so far)."
    )
    _answer(w, w.mentors[1], survey_id, useful=2)
    split = w.surveys.results(survey_id)
    assert split.by_audience is not None
    groups = {g.role: g for g in split.by_audience}
    assert groups["mentee"].questions[0].counts == {1: 0, 2: 0, 3: 0, 4: 0, 5: 2}
    assert groups["mentor"].questions[0].counts == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    assert groups["mentor"].questions[0].mean == 1.5 and split.questions[0].mean == 3.25
    w.services.close()


def test_aggregate_is_pure_and_ignores_missing_answers() -> None:
    result = aggregate(QUESTIONS, [{"useful": 2}, {"useful": 4}, {}], 3)
    assert result.shown and result.questions[0].answered == 2 and not result.questions[0].shown
    assert aggregate(QUESTIONS, [], 1).message == "Results appear once 1 people have answered (0 so far)."


# ---- answering --------------------------------------------------------------------------------------


def test_one_answer_per_person(world: World) -> None:
    survey_id = _survey(world)
    me = world.mentees[0]
    _answer(world, me, survey_id, useful=4)
    with pytest.raises(Conflict, match="you already answered this survey on 20"):
        _answer(world, me, survey_id, useful=1)
    assert world.surveys.get(survey_id).answers == 1
    assert world.surveys.mine(me)[0].answered
    assert not world.surveys.mine(world.mentees[1])[0].answered


def test_answers_are_validated_and_nothing_is_stored_on_error(world: World) -> None:
    survey_id = _survey(world)
    me = world.mentees[0]
    with pytest.raises(InvalidInput) as caught:
        _answer(world, me, survey_id, useful=6, rhythm="often", best="x" * 4001)
    message = caught.value.message
    assert (
        "question 1 (How useful is your mentoring?): choose a rating from 1 to 5, or leave it empty"
        in message
    )
    assert "question 2 (How regular are your sessions?): choose a rating from 1 to 5" in message
    assert "question 3 (What went best?): at most 4000 characters (this answer has 4001)" in message
    with pytest.raises(InvalidInput, match="not questions of this survey: colour"):
        _answer(world, me, survey_id, colour=3)
    with pytest.raises(InvalidInput, match="tick 'Please contact me'"):
        world.surveys.answer(me, survey_id, AnswerIn(contact_note="call me"))
    assert world.surveys.get(survey_id).answers == 0
    # empty answers are fine (every question is optional) and are left out
    _answer(world, me, survey_id, useful=None, rhythm="", best="  ")
    assert validate_answers(QUESTIONS, {"useful": "3", "best": " ok "}) == {"useful": 3, "best": "ok"}
    assert validate_answers(QUESTIONS, {"best": "x" * 4000})["best"] == "x" * 4000


def test_only_the_audience_answers_and_only_while_open(world: World) -> None:
    mentors_only = _survey(world, audience="mentor")
    with pytest.raises(Forbidden, match="this survey is for mentors"):
        _answer(world, world.mentees[0], mentors_only, useful=3)
    with pytest.raises(Forbidden):
        _answer(world, world.admin, mentors_only, useful=3)
    assert world.surveys.mine(world.admin) == []
    assert [m.survey.id for m in world.surveys.mine(world.mentees[0])] == []
    later = _survey(world, opens_on=TODAY + timedelta(days=1))
    ended = _survey(world, opens_on=TODAY - timedelta(days=30), closes_on=TODAY - timedelta(days=1))
    with pytest.raises(Conflict, match="this survey opens on 2026-05-05"):
        _answer(world, world.mentees[0], later, useful=3)
    with pytest.raises(Conflict, match="this survey closed on 2026-05-03"):
        _answer(world, world.mentees[0], ended, useful=3)
    assert [m.survey.id for m in world.surveys.mine(world.mentors[0])] == [mentors_only]
    with pytest.raises(NotFound):
        _answer(world, world.mentees[0], 9999, useful=3)


def test_a_personal_link_answers_once_without_signing_in(world: World) -> None:
    survey_id = _survey(world)
    me = world.mentees[2]
    with world.services.db.session() as session:
        old = invitations.issue(session, survey_id=survey_id, user_id=me.id)
        token = invitations.issue(session, survey_id=survey_id, user_id=me.id)  # replaces the first link
    opened = world.surveys.by_token(token)
    assert opened.survey.id == survey_id and opened.name == "Mentee Number2" and not opened.answered
    with pytest.raises(NotFound, match="replaced by a newer invitation"):
        world.surveys.by_token(old)
    with pytest.raises(NotFound):
        world.surveys.answer_by_token("not-a-token", AnswerIn(answers={"useful": 3}))
    receipt = world.surveys.answer_by_token(token, AnswerIn(answers={"useful": 2, "best": "the walks"}))
    assert receipt.survey_id == survey_id
    assert world.surveys.by_token(token).answered
    with pytest.raises(Conflict, match="already answered"):
        world.surveys.answer_by_token(token, AnswerIn(answers={"useful": 5}))
    # the link answered as that person: the signed-in door is closed to them too
    with pytest.raises(Conflict):
        _answer(world, me, survey_id, useful=5)
    with world.services.db.session() as session:
        stored = session.query(SurveyResponse).one()
        assert (
            stored.user_id == me.id
            and stored.role == "mentee"
            and stored.answers == {"useful": 2, "best": "the walks"}
        )


# ---- editing ----------------------------------------------------------------------------------------


def test_questions_are_free_to_edit_until_the_first_answer(world: World) -> None:
    survey_id = _survey(world)
    edited = [
        Question(key="best", text="What went best so far?", type="text"),
        Question(key="new_one", text="Anything else?", type="text"),
        Question(key="useful", text="How useful?", type="text"),
    ]
    out = world.surveys.update(survey_id, SurveyUpdate(questions=edited, title="Spring check-in"))
    assert [(q.key, q.type) for q in out.questions] == [
        ("best", "text"),
        ("new_one", "text"),
        ("useful", "text"),
    ]
    assert out.title == "Spring check-in"


def test_answered_survey_keeps_question_keys_and_types(world: World) -> None:
    survey_id = _survey(world)
    _answer(world, world.mentees[0], survey_id, useful=4)
    # rewording and reordering are fine
    reworded = [
        Question(key="best", text="What went best, in a sentence?", type="text"),
        Question(key="useful", text="How useful has mentoring been?", type="rating"),
        Question(key="rhythm", text="How regular are your sessions?", type="rating"),
    ]
    out = world.surveys.update(survey_id, SurveyUpdate(questions=reworded))
    assert [q.text for q in out.questions][0] == "What went best, in a sentence?"
    changes = {
        "removed rhythm": reworded[:2],
        "added extra": [*reworded, Question(key="extra", text="And more?", type="text")],
        "changed the type of useful": [
            reworded[0],
            reworded[2],
            Question(key="useful", text="Use?", type="text"),
        ],
    }
    for words, questions in changes.items():
        with pytest.raises(Conflict) as caught:
            world.surveys.update(survey_id, SurveyUpdate(questions=questions))
        assert (
            words in caught.value.message and "only their texts and order can change" in caught.value.message
        )
    assert [q.text for q in world.surveys.get(survey_id).questions] == [q.text for q in reworded]


def test_survey_input_is_checked(world: World) -> None:
    with pytest.raises(ValueError, match="used twice: useful"):
        SurveyIn(kind="mid", questions=[QUESTIONS[0], QUESTIONS[0]])
    with pytest.raises(ValueError, match="closing day must not be before"):
        SurveyIn(kind="mid", opens_on=TODAY, closes_on=TODAY - timedelta(days=1))
    with pytest.raises(ValueError, match="at least 3 characters"):
        Question(key="short", text="   x  ", type="text")
    assert Question(key="ok", text="  Why?\x07  ", type="text").text == "Why?"
    survey_id = _survey(world, opens_on=TODAY)
    with pytest.raises(InvalidInput, match="closing day must not be before"):
        world.surveys.update(survey_id, SurveyUpdate(closes_on=TODAY - timedelta(days=2)))
    assert world.surveys.get(survey_id).closes_on == TODAY + timedelta(days=20)
    with pytest.raises(InvalidInput, match="no cycle with id 77"):
        world.surveys.create(SurveyIn(kind="mid", cycle_id=77))


# ---- cycles -----------------------------------------------------------------------------------------


def _cycle(w: World, *, with_milestone: bool = True) -> int:
    with w.services.db.session() as session:
        program = Program(name=f"Program {with_milestone}")
        session.add(program)
        session.flush()
        cycle = Cycle(
            program_id=program.id, name="Spring 2026", starts_on=date(2026, 2, 2), ends_on=date(2026, 7, 31)
        )
        session.add(cycle)
        session.flush()
        if with_milestone:
            session.add(
                Milestone(
                    cycle_id=cycle.id, key="mid_survey", title="Mid", due_on=date(2026, 4, 26), kind="survey"
                )
            )
        pair = link_mentorship(session, mentor_user_id=w.mentors[0].id, mentee_user_id=w.mentees[0].id)
        session.add(CycleMentorship(cycle_id=cycle.id, mentorship_id=pair.id))
        return cycle.id


def test_a_cycle_survey_takes_its_dates_from_the_milestone_and_asks_the_cycle_pairs(world: World) -> None:
    cycle_id = _cycle(world)
    created = world.surveys.create(SurveyIn(kind="mid", cycle_id=cycle_id))
    assert created.title == "Mid-cycle check-in survey: Spring 2026"
    assert created.opens_on == date(2026, 4, 26) and created.closes_on == date(2026, 5, 16)  # 21 days open
    assert created.is_open
    assert [m.survey.id for m in world.surveys.mine(world.mentees[0])] == [created.id]
    assert [m.survey.id for m in world.surveys.mine(world.mentors[0])] == [created.id]
    assert world.surveys.mine(world.mentees[1]) == []
    with pytest.raises(Forbidden, match="people taking part in its cycle"):
        _answer(world, world.mentees[1], created.id, useful=3)
    ended = world.surveys.create(SurveyIn(kind="end", cycle_id=cycle_id))
    assert ended.opens_on == date(2026, 7, 31)  # no end_survey milestone: the cycle's last day


def test_without_a_milestone_a_mid_survey_opens_half_way(world: World) -> None:
    cycle_id = _cycle(world, with_milestone=False)
    created = world.surveys.create(SurveyIn(kind="mid", cycle_id=cycle_id, closes_on=date(2026, 5, 30)))
    assert created.opens_on == date(2026, 5, 2) and created.closes_on == date(2026, 5, 30)


# ---- contact requests -------------------------------------------------------------------------------


def test_contact_requests_reach_the_admins_with_the_name_until_handled(world: World) -> None:
    survey_id = _survey(world)
    world.surveys.answer(
        world.mentees[1],
        survey_id,
        AnswerIn(answers={"useful": 1}, contact_requested=True, contact_note=" Rough month. "),
    )
    world.surveys.answer(world.mentors[3], survey_id, AnswerIn(contact_requested=True))
    _answer(world, world.mentees[2], survey_id, useful=5)
    waiting = world.surveys.contact_requests()
    assert world.surveys.open_contact_count() == 2
    names = {c.name: c for c in waiting}
    assert set(names) == {"Mentee Number1", "mentor3"}  # the profile's name, else the account's
    assert names["Mentee Number1"].note == "Rough month." and names["Mentee Number1"].role == "mentee"
    assert names["mentor3"].note == "" and names["Mentee Number1"].survey_title == "Mid-cycle check-in survey"
    handled = world.surveys.mark_handled(names["Mentee Number1"].response_id)
    assert handled.handled
    assert [c.name for c in world.surveys.contact_requests()] == ["mentor3"]
    assert world.surveys.open_contact_count() == 1
    assert len(world.surveys.contact_requests(include_handled=True)) == 2
    with world.services.db.session() as session:
        plain = session.query(SurveyResponse).filter_by(user_id=world.mentees[2].id).one()
    with pytest.raises(NotFound, match=f"no contact request {plain.id}"):
        world.surveys.mark_handled(plain.id)


# ---- both databases ---------------------------------------------------------------------------------


def test_answers_and_results_on_each_database(any_db_settings: Settings) -> None:
    w = _world(any_db_settings, people=3, min_answers=3)
    try:
        survey_id = _survey(w, audience="mentee")
        for who, rating in zip(w.mentees, (2, 3, 5), strict=True):
            # control characters (a NUL, which PostgreSQL text refuses) are dropped, never a 500
            w.surveys.answer(
                who,
                survey_id,
                AnswerIn(
                    answers={"useful": rating, "best": f"{rating}\x00 stars", "rhythm": "\x00"},
                    contact_requested=True,
                    contact_note="call\x00 me",
                ),
            )
        with pytest.raises(Conflict):
            _answer(w, w.mentees[0], survey_id, useful=1)
        results = w.surveys.results(survey_id)
        assert results.questions[0].counts == {1: 0, 2: 1, 3: 1, 4: 0, 5: 1}
        assert results.questions[0].mean == 3.33 and results.questions[2].texts == [
            "2 stars",
            "3 stars",
            "5 stars",
        ]
        assert results.questions[1].answered == 0
        assert {c.note for c in w.surveys.contact_requests()} == {"call me"}
        w.surveys.delete(survey_id)
        with pytest.raises(NotFound):
            w.surveys.results(survey_id)
    finally:
        w.services.close()


# ---- API --------------------------------------------------------------------------------------------


def test_api_create_answer_results_and_contacts(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    for api in make_api(services):
        c, admin, mentee, mentor = api.client, api.auth("admin"), api.auth("mentee"), api.auth("mentor")
        created = c.post("/v1/surveys", json={"kind": "mid", "audience": "mentee"}, headers=admin)
        assert created.status_code == 201, created.text
        survey = created.json()
        assert survey["questions"][0]["key"] == "relationship" and survey["answers"] == 0

        mine = c.get("/v1/surveys/mine", headers=mentee).json()
        assert [m["survey"]["id"] for m in mine] == [survey["id"]] and mine[0]["answered"] is False
        assert c.get("/v1/surveys/mine", headers=mentor).json() == []

        url = f"/v1/surveys/{survey['id']}/responses"
        bad = c.post(url, json={"answers": {"relationship": 9}}, headers=mentee)
        assert bad.status_code == 422 and "choose a rating from 1 to 5" in bad.json()["error"]["message"]
        too_long = c.post(url, json={"answers": {"going_well": "x" * 4001}}, headers=mentee)
        assert too_long.status_code == 422
        ok = c.post(
            url,
            json={"answers": {"relationship": 4, "going_well": "We meet."}, "contact_requested": True},
            headers=mentee,
        )
        assert ok.status_code == 201 and ok.json()["contact_requested"] is True
        again = c.post(url, json={"answers": {"relationship": 1}}, headers=mentee)
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
        assert c.post(url, json={"answers": {}}, headers=mentor).status_code == 403

        results = c.get(f"/v1/surveys/{survey['id']}/results", headers=admin).json()
        assert results["shown"] is False and results["answers"] == 1
        assert results["message"] == "Results appear once 5 people have answered (1 so far)."
        assert all(q["counts"] is None and q["texts"] is None for q in results["questions"])

        frozen = c.patch(
            f"/v1/surveys/{survey['id']}", json={"questions": survey["questions"][:2]}, headers=admin
        )
        assert frozen.status_code == 409 and "keep their keys and types" in frozen.json()["error"]["message"]
        renamed = c.patch(f"/v1/surveys/{survey['id']}", json={"title": "Spring check-in"}, headers=admin)
        assert renamed.status_code == 200 and renamed.json()["title"] == "Spring check-in"

        contacts = c.get("/v1/surveys/contact-requests", headers=admin).json()
        assert [(x["name"], x["role"]) for x in contacts] == [("mentee1", "mentee")]
        handled = c.post(f"/v1/surveys/contact-requests/{contacts[0]['response_id']}/handled", headers=admin)
        assert handled.status_code == 200 and handled.json()["handled"] is True
        assert c.get("/v1/surveys/contact-requests", headers=admin).json() == []
        assert c.get("/v1/surveys/contact-requests", headers=mentee).status_code == 403
        assert [s["title"] for s in c.get("/v1/surveys", headers=admin).json()] == ["Spring check-in"]

        wrong = c.post("/v1/surveys", json={"kind": "weekly"}, headers=admin)
        assert wrong.status_code == 422 and "kind" in wrong.json()["error"]["message"]
        assert c.delete(f"/v1/surveys/{survey['id']}", headers=admin).status_code == 204
        assert c.get(f"/v1/surveys/{survey['id']}", headers=admin).status_code == 404
    services.close()


# ---- CLI --------------------------------------------------------------------------------------------


def test_cli_create_list_and_results(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "COMPANION_PROGRAM__SURVEY_MIN_ANSWERS": "1",
        "COLUMNS": "200",
    }
    created = runner.invoke(cli_app, ["surveys", "create", "--kind", "end", "--opens", "2026-01-01"], env=env)
    assert created.exit_code == 0, created.output
    assert (
        "survey 1 created: End-of-cycle survey (end, for both, 2026-01-01 to 2026-01-21, 6 questions)"
        in created.stdout
    )
    missing = runner.invoke(cli_app, ["surveys", "create", "--kind", "mid", "--cycle", "4"], env=env)
    assert missing.exit_code == 1 and "no cycle with id 4" in missing.stderr
    bad_day = runner.invoke(cli_app, ["surveys", "create", "--kind", "mid", "--opens", "soon"], env=env)
    assert bad_day.exit_code == 1 and "--opens: use a date like" in bad_day.stderr
    listed = runner.invoke(cli_app, ["surveys", "list", "--json"], env=env)
    assert [s["title"] for s in json.loads(listed.stdout)] == ["End-of-cycle survey"]

    services = Services(make_settings(tmp_path))
    with services.db.session() as session:
        user, _ = create_user(session, name="mentee1", role=Role.mentee)
        session.add(
            SurveyResponse(
                survey_id=1, user_id=user.id, role="mentee", answers={"overall": 4, "highlight": "The walks"}
            )
        )
    services.close()
    shown = runner.invoke(cli_app, ["surveys", "results", "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "1 people have answered." in shown.stdout
    assert "mean 4.00 of 1   1: 0  2: 0  3: 0  4: 1  5: 0" in shown.stdout and "- The walks" in shown.stdout
    assert runner.invoke(cli_app, ["surveys", "results", "2"], env=env).exit_code == 1
