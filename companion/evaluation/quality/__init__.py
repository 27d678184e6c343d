"""Quality metrics of the assistant's output, one concern per module; each returns `(value, reason)` with
value in [0, 1]. They tell quality (does the text carry what a good answer needs) apart from validity
(did the model's reply pass the checks), which the runner reports on its own."""

from companion.evaluation.quality.blanks import no_blanks
from companion.evaluation.quality.key_points import key_point_coverage, point_covered
from companion.evaluation.quality.rewrite import behaviour_kept, observed_terms
from companion.evaluation.quality.specificity import distinct_share, goal_specificity, measure_key

__all__ = [
    "behaviour_kept",
    "distinct_share",
    "goal_specificity",
    "key_point_coverage",
    "measure_key",
    "no_blanks",
    "observed_terms",
    "point_covered",
]
