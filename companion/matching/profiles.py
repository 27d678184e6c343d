"""Profile texts and their stored vectors.

A mentor is embedded by what they offer (expertise and skills), a mentee by what they need (goals and
wanted skills). Each profile also keeps its phrases (sentences and clauses of that text) with their own
vectors, so a match can quote which goal met which piece of expertise without embedding anything at
query time. Vectors live in the `profile_vectors` table next to a hash of the embedded text and the
embedder's name; they are recomputed only when that hash changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.knowledge.embeddings import TextEmbedder
from companion.matching.scoring import Embedded, MatchProfile
from companion.storage.db import Person, ProfileVector

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
# where a long sentence may be cut: commas, and conjunctions that start a new clause
_CLAUSE = re.compile(r",\s+(?:and\s+|but\s+)?|\s+(?:but|while|so that|and then)\s+|\s+and\s+(?=I\b)")
_LONG_SENTENCE = 20
_MAX_PHRASES = 12


def profile_text(person: Person) -> str:
    """The text that is embedded: a mentor's offer or a mentee's needs."""
    body = person.expertise if person.role == "mentor" else person.goals
    label = "Skills offered" if person.role == "mentor" else "Skills wanted"
    skills = f"{label}: {', '.join(person.skills)}." if person.skills else ""
    return " ".join(part for part in (body.strip(), skills) if part)


def phrases_of(text: str) -> list[str]:
    """Sentences of a profile text; sentences over 20 words are cut at commas and clause conjunctions."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip(" .;!?\t")
        if not sentence:
            continue
        pieces = [sentence] if len(sentence.split()) <= _LONG_SENTENCE else _CLAUSE.split(sentence)
        for piece in pieces:
            piece = piece.strip(" ,.;")
            if len(piece.split()) >= 2 and piece not in out:
                out.append(piece)
    return out[:_MAX_PHRASES]


def profile_phrases(person: Person) -> list[str]:
    body = person.expertise if person.role == "mentor" else person.goals
    return phrases_of(body) or list(person.skills)


def text_hash(embedder: TextEmbedder, text: str, phrases: Sequence[str]) -> str:
    data = "\x1e".join([embedder.name, text, *phrases])
    return hashlib.sha256(data.encode()).hexdigest()


def match_profile(person: Person, *, ancestors: tuple[str, ...]) -> MatchProfile:
    prefs = person.preferences or {}
    return MatchProfile(
        id=person.id,
        key=person.key,
        name=person.name,
        role=person.role,
        timezone=person.timezone,
        languages=tuple(person.languages),
        skills=tuple(person.skills),
        department=person.department,
        site=person.site,
        seniority=person.seniority,
        capacity=person.capacity if person.role == "mentor" else 0,
        ancestors=ancestors,
        preferred=tuple(prefs.get("mentors") or ()),  # type: ignore[arg-type]
        avoid=tuple(prefs.get("avoid") or ()),  # type: ignore[arg-type]
        department_pref=prefs.get("department"),  # type: ignore[arg-type]
        site_pref=prefs.get("site"),  # type: ignore[arg-type]
    )


def reporting_chains(managers: dict[str, str | None]) -> dict[str, tuple[str, ...]]:
    """Each person's manager chain, nearest first. A cycle in the data stops the walk."""
    chains: dict[str, tuple[str, ...]] = {}
    for key in managers:
        chain: list[str] = []
        seen = {key}
        current = managers.get(key)
        while current and current not in seen:
            chain.append(current)
            seen.add(current)
            current = managers.get(current)
        chains[key] = tuple(chain)
    return chains


class ProfileVectors:
    """Keeps `profile_vectors` in step with the profiles, embedding only what changed."""

    def __init__(self, *, embedder: TextEmbedder, batch_size: int = 64) -> None:
        self.embedder = embedder
        self.batch_size = batch_size

    def sync(self, session: Session, people: Sequence[Person]) -> tuple[dict[int, Embedded], int]:
        """Vectors for these people, (re)computing stale ones. Returns them and how many were embedded."""
        ids = [p.id for p in people]
        stored: dict[int, ProfileVector] = {}
        for start in range(0, len(ids), 5000):
            batch = ids[start : start + 5000]
            for row in session.scalars(select(ProfileVector).where(ProfileVector.person_id.in_(batch))):
                stored[row.person_id] = row
        stale: list[tuple[Person, str, list[str], str]] = []
        out: dict[int, Embedded] = {}
        for person in people:
            text = profile_text(person)
            phrases = profile_phrases(person)
            digest = text_hash(self.embedder, text, phrases)
            kept = stored.get(person.id)
            if kept is not None and kept.text_hash == digest and kept.dimensions == self.embedder.dimensions:
                out[person.id] = _decode(kept)
            else:
                stale.append((person, text, phrases, digest))
        if stale:
            texts = [t for _, t, _, _ in stale]
            flat = [p for _, _, phrases, _ in stale for p in phrases]
            vectors = self.embedder.encode(texts, batch_size=self.batch_size)
            phrase_vectors = self.embedder.encode(flat, batch_size=self.batch_size) if flat else None
            at = 0
            for (person, _, phrases, digest), vector in zip(stale, vectors, strict=True):
                mine = (
                    phrase_vectors[at : at + len(phrases)]
                    if phrase_vectors is not None
                    else np.zeros((0, self.embedder.dimensions), np.float32)
                )
                at += len(phrases)
                record = stored.get(person.id) or ProfileVector(person_id=person.id)
                record.text_hash = digest
                record.dimensions = self.embedder.dimensions
                record.vector = np.asarray(vector, dtype=np.float32).tobytes()
                record.phrases = list(phrases)
                record.phrase_vectors = np.asarray(mine, dtype=np.float32).tobytes()
                session.add(record)
                out[person.id] = Embedded(np.asarray(vector, np.float32), list(phrases), np.asarray(mine))
            session.flush()
        return out, len(stale)


def _decode(row: ProfileVector) -> Embedded:
    vector = np.frombuffer(row.vector, dtype=np.float32)
    phrase_vectors = np.frombuffer(row.phrase_vectors, dtype=np.float32).reshape(-1, row.dimensions)
    return Embedded(vector, list(row.phrases), phrase_vectors)
