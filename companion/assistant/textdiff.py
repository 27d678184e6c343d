"""Word-level differences between two texts (the feedback coach shows what the rewrite changed)."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

DiffKind = Literal["same", "added", "removed"]


@dataclass(frozen=True)
class DiffPart:
    kind: DiffKind
    text: str  # words joined by single spaces


def word_diff(before: str, after: str) -> list[DiffPart]:
    """`after` compared with `before`, word by word: runs of kept, removed and added words in reading
    order (a replaced run gives its removed words first). Whitespace differences are ignored; words are
    compared exactly, so a change of case or punctuation shows as a replaced word. A kept run of one or
    two words stranded between two larger changes (a lone "the" inside a rewritten sentence) is shown as
    part of the change, which reads far better than a diff cut into fragments."""
    old, new = before.split(), after.split()
    # segments: (removed words, added words); a kept run is a segment whose two lists are the same object
    segments: list[tuple[list[str], list[str]]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            kept = new[j1:j2]
            segments.append((kept, kept))
        else:  # replace, delete or insert
            segments.append((old[i1:i2], new[j1:j2]))
    segments = _fold_stranded(segments)
    parts: list[DiffPart] = []

    def emit(kind: DiffKind, words: list[str]) -> None:
        if not words:
            return
        if parts and parts[-1].kind == kind:
            parts[-1] = DiffPart(kind, f"{parts[-1].text} {' '.join(words)}")
        else:
            parts.append(DiffPart(kind, " ".join(words)))

    for removed, added in segments:
        if removed is added:
            emit("same", added)
        else:
            emit("removed", removed)
            emit("added", added)
    return parts


def _fold_stranded(segments: list[tuple[list[str], list[str]]]) -> list[tuple[list[str], list[str]]]:
    def changed(segment: tuple[list[str], list[str]]) -> int:
        return 0 if segment[0] is segment[1] else len(segment[0]) + len(segment[1])

    i = 1
    while i < len(segments) - 1:
        kept = segments[i]
        size = len(kept[1])
        before, after = segments[i - 1], segments[i + 1]
        if kept[0] is kept[1] and size <= 2 and min(changed(before), changed(after)) > 2 * size:
            merged = (before[0] + kept[0] + after[0], before[1] + kept[1] + after[1])
            segments[i - 1 : i + 2] = [merged]
            i = max(i - 2, 1)
        else:
            i += 1
    return segments


def diff_counts(parts: list[DiffPart]) -> dict[DiffKind, int]:
    """Words per kind, e.g. {'same': 10, 'added': 4, 'removed': 2}."""
    counts: dict[DiffKind, int] = {"same": 0, "added": 0, "removed": 0}
    for part in parts:
        counts[part.kind] += len(part.text.split())
    return counts
