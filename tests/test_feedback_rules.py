"""The feedback rules on drafts written for these tests (not the eval suite's): each kind of wording that
lands badly is flagged, taken out of the grounded rewrite, and fails a model's rewrite; sincere uses stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.assistant.composer import compose_feedback
from companion.assistant.feedback_rules import find_flags, plain_draft, rewrite_problems


def kinds(text: str) -> set[tuple[str, str]]:
    return {(f.kind, f.phrase) for f in find_flags(text)}


@pytest.mark.parametrize(
    ("draft", "flag", "gone", "kept"),
    [
        ("Wow, thanks for nothing. The handover sheet had no bed numbers on it.",
         ("sarcasm", "thanks for nothing"), "thanks", "no bed numbers"),
        ("Oh wonderful, yet another stellar invoice run with three duplicated payments.",
         ("sarcasm", "oh wonderful"), "stellar", "three duplicated payments"),
        ("Great, the staging build is broken again.", ("sarcasm", "great"), "great",
         "staging build is broken"),
        ("You deliberately skipped the safety briefing on the loading bay.", ("intent", "deliberately"),
         "deliberately", "skipped the safety briefing"),
        ("You clearly don't care about the customers, you left the returns desk unstaffed at noon.",
         ("intent", "you clearly don't care"), "care", "left the returns desk unstaffed"),
        ("Do you even read the brief? The mock-ups used last year's logo.", ("rhetorical", "do you even"),
         "even read", "last year's logo"),
        ("You are pushy and dismissive with the suppliers on the phone.", ("character", "pushy"), "pushy",
         "suppliers on the phone"),
        ("The shift rota was an absolute nightmare, two porters were booked twice.",
         ("vague", "an absolute nightmare"), "nightmare", "two porters were booked twice"),
        ("Yet again the van left the depot without the signed delivery notes.", ("absolute", "yet again"),
         "yet again", "without the signed delivery notes"),
        ("Each and every invoice you send goes to the wrong cost centre.", ("absolute", "each and every"),
         "each and every", "wrong cost centre"),
    ],
)  # fmt: skip
def test_each_kind_is_flagged_and_left_out_of_the_rewrite(
    draft: str, flag: tuple[str, str], gone: str, kept: str
) -> None:
    assert flag in kinds(draft)
    result = compose_feedback(draft=draft)
    assert gone not in result.rewritten.lower()
    assert kept in result.rewritten, "the observed fact is kept"
    assert find_flags(result.rewritten) == [], result.rewritten
    assert "[" not in result.rewritten and "I noticed that oh" not in result.rewritten


@pytest.mark.parametrize(
    "draft",
    [
        "Your brilliant summary of the two options helped the board decide in ten minutes.",
        "Great, thanks for staying late to finish the audit pack.",
        "Never mind the typo in the title, the figures in the table were right.",
        "The setup wizard now shows a star rating beside each supplier.",
        "You were late to the first call but rescued the demo. Well done.",
        "Thanks a lot for covering my shift on Sunday.",
        "Could you add the fluid balance to the handover next time?",
        "At the stand-up you spoke after everyone else and summed up the two options.",
    ],
)
def test_sincere_praise_and_plain_words_are_not_flagged(draft: str) -> None:
    assert find_flags(draft) == [], kinds(draft)


def test_a_sincere_brilliant_with_a_behaviour_is_kept() -> None:
    result = compose_feedback(
        draft="Your brilliant summary of the two options helped the board decide quickly."
    )
    assert "brilliant summary of the two options" in result.rewritten


def test_label_only_praise_keeps_the_thanks_and_asks_what_went_well() -> None:
    draft = "You're an absolute legend! Awesome job, keep up the good work!"
    assert {k for k, _ in kinds(draft)} == {"label"}
    assert plain_draft(draft).label_only
    result = compose_feedback(draft=draft)
    assert result.rewritten.startswith("Thank you")
    assert "legend" not in result.rewritten.lower() and "awesome" not in result.rewritten.lower()
    assert any("specifically" in q for q in result.questions) and all(
        q.endswith("?") for q in result.questions
    )
    assert find_flags(result.rewritten) == []


def test_a_label_with_a_behaviour_becomes_thanks_for_the_behaviour() -> None:
    result = compose_feedback(draft="You're a star for covering the night shift at short notice.")
    assert "Thank you for covering the night shift at short notice." in result.rewritten
    assert "star" not in result.rewritten.lower()
    assert not plain_draft("You're a star for covering the night shift.").label_only


def test_a_why_question_keeps_what_was_observed() -> None:
    assert plain_draft("Why do you always skip the unit tests?").text == "You skip the unit tests."
    assert (
        plain_draft("Are you trying to annoy the auditors? The ledger was late.").text
        == "The ledger was late."
    )


def test_a_models_rewrite_with_sarcasm_intent_or_labels_fails_validation() -> None:
    assert any("sarcasm" in p for p in rewrite_problems("Oh great, the slides had no dates. Really helpful."))
    assert any("intent" in p for p in rewrite_problems("You ignored the checklist on purpose last Tuesday."))
    assert any(
        "rhetorical" in p for p in rewrite_problems("What were you thinking? The order shipped twice.")
    )
    assert any("label" in p for p in rewrite_problems("You're a superstar, thanks for the demo."))
    assert any("vague" in p for p in rewrite_problems("In Monday's review the deck was a total mess."))
    assert (
        rewrite_problems(
            "In Monday's review the deck had no dates on the timeline. Could you add them before Friday?"
        )
        == []
    )


def test_a_why_did_question_keeps_the_past_tense() -> None:
    result = compose_feedback(draft="Why did you skip the stock check on Thursday?")
    assert "you skipped the stock check" in result.rewritten
    assert "?" not in result.rewritten.split(". Next time")[0], "the accusing question is gone"


def test_an_accusation_with_nothing_observed_names_its_topic_and_asks_what_happened() -> None:
    result = compose_feedback(draft="You clearly couldn't care less about the patients on ward 3.")
    assert result.rewritten.startswith("I would like to talk about the patients on ward 3.")
    assert "care" not in result.rewritten
    assert "What exactly did you see or hear the person do?" in result.questions


def test_praise_with_its_effect_closes_with_keep_going_not_a_request_to_change() -> None:
    result = compose_feedback(
        draft="Nice catch on the duplicate refund, that saved the store two hundred pounds."
    )
    assert result.rewritten.startswith(
        "Nice catch on the duplicate refund, that saved the store two hundred pounds."
    ), "nothing is flagged, so the mentor's sentence is kept as written"
    assert result.impact == "That saved the store two hundred pounds."
    assert "eep doing what worked" in result.rewritten and "try differently" not in result.rewritten


def test_the_behaviour_metric_sets_aside_flagged_phrases_not_their_common_words() -> None:
    from companion.evaluation.quality.rewrite import observed_terms

    terms = observed_terms("The car park sign was a car crash. You're a rock star for fixing it.")
    assert {"car", "park", "sign", "fix"} <= terms, "only the flagged phrases are set aside"
    assert not {"rock", "star", "crash"} & terms


def test_a_model_reply_with_sarcasm_or_a_guess_at_intent_falls_back_to_the_grounded_rewrite(
    tmp_path: Path,
) -> None:
    from companion.assistant.models import FeedbackRequest
    from tests.support.assistant import ADMIN, build

    snide = {
        "rewritten": "Oh great, the rota went out with two nurses booked twice. You clearly don't care about "
        "the ward. Could you check the bookings before Friday?",
        "situation": "the night shift rota for next week",
        "behaviour": "two nurses were booked twice",
        "impact": "the ward was short on Tuesday night",
        "next_step": "check the bookings before sending the rota",
        "changes": [],
        "sources": [1],
    }
    services = build(tmp_path, [snide, snide])
    draft = "Great, the rota has two nurses booked twice again."
    result = services.mentoring.coach_feedback(ADMIN, FeedbackRequest(draft=draft))
    problems = " ".join(result.generation.problems)
    assert result.origin == "grounded"
    assert "sarcasm wording: 'oh great'" in problems and "intent wording" in problems
    assert "two nurses booked twice" in result.rewritten and find_flags(result.rewritten) == []
    assert {(f.kind, f.phrase) for f in result.flagged} == {("sarcasm", "great")}


# ---- a draft that is already good feedback is kept ---------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "situation", "behaviour", "impact", "next_step"),
    [
        ("In Wednesday's sales call you listened to the buyer's whole objection before offering a fix, and "
         "the buyer renewed for another year. Could you coach Dev on that next week?",
         "In Wednesday's sales call.", "You listened to the buyer's whole objection before offering a fix.",
         "The buyer renewed for another year.", "Could you coach Dev on that next week?"),
        ("During last week's audit you kept a log of every sample you pulled, which made the follow-up "
         "questions easy to answer. Let's make the log part of the audit checklist.",
         "During last week's audit.", "You kept a log of every sample you pulled.",
         "This made the follow-up questions easy to answer.",
         "Let's make the log part of the audit checklist."),
        ("This morning you rewrote the error messages in the checkout form; support tickets about them "
         "dropped to zero by lunch. Please show the mobile team how you did it.",
         "This morning.", "You rewrote the error messages in the checkout form.",
         "Support tickets about them dropped to zero by lunch.",
         "Please show the mobile team how you did it."),
        ("At Monday's night shift handover you read out each patient's drug changes slowly and carefully. "
         "The day team started rounds without a single query. Keep doing that.",
         "At Monday's night shift handover.",
         "You read out each patient's drug changes slowly and carefully.",
         "The day team started rounds without a single query.", "Keep doing that."),
    ],
)  # fmt: skip
def test_a_good_draft_is_kept_verbatim_with_its_parts_recognised(
    draft: str, situation: str, behaviour: str, impact: str, next_step: str
) -> None:
    assert find_flags(draft) == []
    result = compose_feedback(draft=draft)
    assert result.rewritten == draft, "nothing is broken, so nothing is rewritten"
    assert (result.situation, result.behaviour, result.impact, result.next_step) == (
        situation,
        behaviour,
        impact,
        next_step,
    )
    assert result.questions == [], "no question for a part the draft already has"
    assert "agree with me" not in result.rewritten + result.next_step


def test_a_good_draft_is_never_split_inside_a_noun_or_time_phrase() -> None:
    result = compose_feedback(
        draft="During the fire drill on Thursday you kept the visitor log updated every ten minutes; the "
        "warden told us it saved a full recount."
    )
    assert result.situation == "During the fire drill on Thursday."
    assert result.behaviour == "You kept the visitor log updated every ten minutes."
    assert result.impact == "The warden told us it saved a full recount."
    assert result.rewritten.startswith(
        "During the fire drill on Thursday you kept the visitor log updated every ten minutes; the warden"
    )


def test_a_praise_draft_closes_with_encouragement_not_a_request_for_change() -> None:
    draft = (
        "When the card reader failed at the gate, you moved the queue to the paper tickets calmly, so the "
        "concert doors opened on time."
    )
    result = compose_feedback(draft=draft + " Thank you.")
    assert result.rewritten.startswith(draft + " Thank you. Keep doing what worked")
    assert result.behaviour == "You moved the queue to the paper tickets calmly."
    assert result.situation == "When the card reader failed at the gate."
    assert result.impact == "The concert doors opened on time."
    assert result.next_step.startswith("Keep doing what worked")
    assert "could you" not in result.rewritten.lower() and "differently" not in result.rewritten


def test_a_good_corrective_draft_without_a_next_step_gets_a_request_and_only_the_missing_questions() -> None:
    draft = "You skipped the pallet count on aisle 9 and the delivery went out two boxes short."
    result = compose_feedback(draft=draft)
    assert result.rewritten.startswith(draft + " Next time, could you")
    assert result.behaviour == "You skipped the pallet count on aisle 9."
    assert result.impact == "The delivery went out two boxes short."
    assert result.questions == ["When and where did this happen (which meeting, task or day)?"]
    answered = compose_feedback(draft=draft, situation="In Friday's late shift")
    assert answered.rewritten.startswith("In Friday's late shift, you skipped the pallet count on aisle 9")
    assert answered.questions == []


def test_the_situation_finder_keeps_the_whole_phrase_on_the_flagged_path_too() -> None:
    planning = compose_feedback(draft="In Tuesday's planning meeting you never summarised the options.")
    assert planning.situation == "In Tuesday's planning meeting."
    assert planning.rewritten.startswith("In Tuesday's planning meeting, I noticed that you did not")
    outage = compose_feedback(draft="During the outage on Friday you never updated the status page.")
    assert outage.situation == "During the outage on Friday."
    assert "status page" in outage.behaviour and "status," not in outage.rewritten
    demo = compose_feedback(draft="Yesterday in the client demo you were rude to the client's architect.")
    assert demo.situation == "Yesterday in the client demo."
    assert demo.rewritten.startswith("Yesterday in the client demo, I noticed that the tone came across")


def test_a_softened_never_keeps_the_verb_whole() -> None:
    result = compose_feedback(draft="During the outage on Friday you never updated the status page.")
    assert "you did not update the status page" in result.rewritten
    planning = compose_feedback(draft="You have never shared the agenda before the planning meeting.")
    assert "you did not share the agenda" in planning.rewritten


def test_a_flagged_draft_keeps_its_own_next_step_instead_of_a_generic_request() -> None:
    result = compose_feedback(
        draft="You never log the fridge temperature on the late shift. "
        "Could you add it to the closing checklist?"
    )
    assert result.rewritten == (
        "I noticed that you did not log the fridge temperature on the late shift. "
        "Could you add it to the closing checklist?"
    )
    assert result.behaviour == "You did not log the fridge temperature on the late shift."
    assert result.next_step == "Could you add it to the closing checklist?"
    night = compose_feedback(
        draft="Your stock notes were sloppy on Friday night. Next time, please count the cellar."
    )
    assert night.situation == "On Friday night."
    assert night.rewritten.startswith(
        "On Friday night, I noticed that in your stock notes, there were mistakes"
    )
    assert (
        night.rewritten.endswith("Next time, please count the cellar.") and "could you" not in night.rewritten
    )
