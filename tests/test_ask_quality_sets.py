"""The question sets of `benchmarks.ask_quality`: the held-out sets really are held out."""

from __future__ import annotations

from benchmarks.ask_quality import SETS, load_sets


def _flat(text: str) -> str:
    return " ".join(text.lower().split())


def test_the_sets_have_key_points_and_the_handbook_set_holds_no_suite_question() -> None:
    sets = load_sets(list(SETS), None)
    assert all(case["answer_points"] for cases in sets.values() for case in cases)
    suite = {_flat(c["question"]) for c in sets["ask"]}
    assert suite and not suite & {_flat(c["question"]) for c in sets["handbook"]}
    assert len(sets["handbook"]) >= 100 and len(sets["kestrelway"]) >= 70
    assert len(sets["hollinvale"]) >= 50  # every sample corpus is a set of its own


def test_limit_and_choice_of_sets() -> None:
    sets = load_sets(["kestrelway"], 3)
    assert list(sets) == ["kestrelway"] and len(sets["kestrelway"]) == 3
