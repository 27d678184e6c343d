"""Content terms of a text: stemmed words (`knowledge.keyword.tokenize`) without stopwords, plus numbers."""

from __future__ import annotations

from companion.knowledge.keyword import tokenize

_FILLER = frozenset(
    "get make want like need really also thing things way much many well good better lot able try".split()
)


def terms(text: str) -> set[str]:
    return {t for t in tokenize(text.replace(",", "")) if (len(t) > 2 or t.isdigit()) and t not in _FILLER}
