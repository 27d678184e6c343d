"""The quality metrics: key-point coverage, goal specificity, distinct measures, behaviour kept, no blanks.
Each is checked on an output that should pass and one that should not."""

from __future__ import annotations

from companion.evaluation.quality import (
    behaviour_kept,
    distinct_share,
    goal_specificity,
    key_point_coverage,
    no_blanks,
    point_covered,
)


def test_key_points_are_covered_verbatim_or_by_most_of_their_terms() -> None:
    answer = "Give feedback in private, ideally within the 48 hours after the meeting [1]."
    assert point_covered(answer, "within 48 hours")
    assert point_covered(answer, "privately") is False  # one term, not present ("private" is not "privately")
    assert not point_covered("Wait 48 minutes [1].", "within 48 hours")
    value, reason = key_point_coverage(answer, ["within 48 hours", "next step"])
    assert value == 0.5 and "missing: next step" in reason
    assert key_point_coverage(answer, [])[0] == 1.0


def test_goal_specificity_wants_the_aspirations_terms_in_the_measure() -> None:
    aspiration = "present technical work to senior leadership"
    specific = [("Present to leadership by June.", "3 presentations to senior leadership, with feedback.")]
    generic = [("Present to leadership by June.", "Complete at least 3 concrete practice attempts.")]
    assert goal_specificity(aspiration, specific)[0] == 1.0
    value, reason = goal_specificity(aspiration, generic)
    assert value == 0.0 and "goals [1]" in reason


def test_distinct_measures_ignore_numbers_and_name_the_shared_cases() -> None:
    value, reason = distinct_share({"a": "3 talks given", "b": "4 talks given", "c": "2 documents reviewed"})
    assert value == round(1 / 3, 4) and "shared by: a, b" in reason
    assert distinct_share({"a": "3 talks", "b": "2 documents"})[0] == 1.0


def test_behaviour_kept_measures_the_observed_terms_not_the_judgments() -> None:
    draft = "Your report was sloppy and you never check your numbers."
    kept = "In your report, I noticed that you did not check the numbers before sending it."
    lost = "I noticed some problems with the quality of the work."
    assert behaviour_kept(draft, kept)[0] == 1.0
    value, reason = behaviour_kept(draft, lost)
    assert value < 0.5 and "lost:" in reason and "report" in reason
    assert behaviour_kept("You are lazy.", "Anything at all.")[0] == 1.0  # nothing observed to keep


def test_no_blanks_tells_placeholders_from_citation_markers() -> None:
    assert no_blanks(["Pairs meet every two weeks [1], [2, 3]."])[0] == 1.0
    value, reason = no_blanks(["In [when and where it happened], I noticed this."])
    assert value == 0.0 and "[when and where it happened]" in reason
    assert no_blanks(["Fill in ___ here."])[0] == 0.0
