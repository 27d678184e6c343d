"""Recommendations through the real packaged embedding model, on the demo organization of the eval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.container import Services
from companion.settings import Settings
from tests.support.people import load_cases, precision_at_5

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data: Path = tmp_path_factory.mktemp("real-matching")
    services = Services(Settings(data_dir=data, store={"mode": "memory"}))  # type: ignore[arg-type]
    services.db.create_tables()
    yield services
    services.close()


def test_precision_at_5_and_sensible_reasons_with_the_real_model(real_services: Services) -> None:
    value = precision_at_5(real_services)  # loads the demo organization of the eval (seed 7, 300 people)
    print(f"\nmatching eval (real model): precision@5 = {value:.3f}")
    assert value >= 0.6

    case = load_cases()[0]
    out = real_services.matching.recommend(case["mentee"], k=5, principal=None)
    assert len(out.results) == 5 and out.mentors_eligible > 5
    for result in out.results:
        assert result.mentor.key != case["mentee"]
        assert result.matched_skills or result.matched_phrases, result.reason
        for phrase in result.matched_phrases:
            assert phrase.similarity >= real_services.settings.matching.reason_min_similarity
            assert f'Goal "{phrase.need[:40]}' in result.reason
    top = out.results[0]
    assert top.matched_phrases, "the best mentor's expertise is quoted against the mentee's goals"
    assert top.breakdown.similarity > 0.4
    assert [r.score for r in out.results] == sorted((r.score for r in out.results), reverse=True)
