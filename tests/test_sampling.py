"""The shortlist rule of the lazy grammar sampler, against a plain re-statement of llama.cpp's top-k ->
top-p -> min-p: whenever `same_candidates` says the left-out tokens cannot matter, adding any of them
must leave the kept tokens unchanged. (The model-level checks are in test_model_pull.py.)"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from companion.assistant.sampling import same_candidates


def kept(logits: list[float], *, top_k: int, top_p: float, min_p: float) -> set[int]:
    """Indices llama.cpp's top-k, then top-p (softmax at temperature 1), then min-p keep."""
    order = sorted(range(len(logits)), key=lambda i: -logits[i])[:top_k]
    best = logits[order[0]]
    weights = [math.exp(logits[i] - best) for i in order]
    if top_p < 1.0:
        total, running = sum(weights), 0.0
        for n, w in enumerate(weights):
            running += w / total
            if running >= top_p:
                order = order[: n + 1]
                break
    floor = best + math.log(min_p) if min_p > 0 else -math.inf
    return {i for i in order if logits[i] >= floor}


@pytest.mark.parametrize(("top_p", "min_p"), [(0.95, 0.05), (1.0, 0.05), (0.9, 0.0), (0.95, 0.2)])
def test_left_out_tokens_never_change_what_is_kept_when_the_rule_says_so(top_p: float, min_p: float) -> None:
    rng = random.Random(13)
    top_k, said_same, said_unsure = 40, 0, 0
    for _ in range(3000):
        n_above = rng.randint(1, 12)
        outside = rng.uniform(-5, 15)
        spread = rng.choice([0.5, 2.0, 8.0])
        above = sorted(
            (outside + rng.uniform(0.001, spread) * rng.random() * 6 for _ in range(n_above)), reverse=True
        )
        if not same_candidates(np.array(above), outside, greedy=False, top_k=top_k, top_p=top_p, min_p=min_p):
            said_unsure += 1
            continue
        said_same += 1
        alone = kept(above, top_k=top_k, top_p=top_p, min_p=min_p)
        for _ in range(3):
            extras = [
                outside - rng.choice([0.0, rng.uniform(0, 3)]) for _ in range(rng.randint(1, top_k - n_above))
            ]
            assert kept(above + extras, top_k=top_k, top_p=top_p, min_p=min_p) == alone
    assert said_same > 300 and said_unsure > 30  # the rule decides both ways on these draws


def test_greedy_and_a_full_top_k_need_no_other_check() -> None:
    above = np.array([3.0, 2.0])
    assert same_candidates(above, 2.9, greedy=True, top_k=40, top_p=0.95, min_p=0.05)
    assert same_candidates(np.linspace(10, 5, 40), 4.9, greedy=False, top_k=40, top_p=1.0, min_p=0.0)
    # two close tokens, left-out ones just below: top-p could keep them, min-p would not drop them
    assert not same_candidates(above, 1.99, greedy=False, top_k=40, top_p=0.999, min_p=0.0)
