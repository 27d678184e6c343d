from __future__ import annotations

from pathlib import Path

import pytest

from companion.container import Services
from companion.errors import InvalidInput
from companion.knowledge.keyword import KeywordIndex, tokenize
from companion.knowledge.retrieval import Retriever
from companion.settings import RetrievalSettings


def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize("The Goals of mentoring sessions") == ["goal", "mentor", "session"]


def test_bm25_prefers_rare_terms_and_respects_mask() -> None:
    texts = ["goal goal goal", "goal feedback", "agenda minutes", "feedback impact behaviour"]
    index = KeywordIndex([f"c{i}" for i in range(4)], texts)
    top = [row for row, _ in index.search("feedback impact", 3)]
    assert top[0] == 3 and set(top) == {1, 3}
    masked = index.search("feedback", 5, mask=__import__("numpy").array([True, False, True, True]))
    assert [row for row, _ in masked] == [3]
    assert index.search("unknownword", 5) == []


def _ingest(services: Services, tmp_path: Path, files: dict[str, str]) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    for name, body in files.items():
        (root / name).write_text(body)
    services.knowledge.ingest_paths([root])


def test_results_are_cited_and_ranked(services: Services, tmp_path: Path) -> None:
    _ingest(
        services,
        tmp_path,
        {
            "goals.md": "# Goals\n\n## SMART\n\nSpecific measurable achievable relevant time-bound goals.\n",
            "agenda.md": "# Sessions\n\n## Agenda\n\nTime-box each agenda item in minutes.\n",
            "trust.md": "# Trust\n\n## Confidentiality\n\nWhat is said in a session stays private.\n",
        },
    )
    results = services.retriever.retrieve(query="measurable SMART goals", k=3)
    assert results[0].source == "goals.md"
    assert results[0].citation == "goals.md § Goals > SMART"
    assert results[0].heading == "Goals > SMART"
    assert results[0].dense_similarity is not None and results[0].keyword_score is not None
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_keyword_ranking_rescues_exact_terms(services: Services, tmp_path: Path) -> None:
    """A rare exact term found only by BM25 still reaches the top through fusion."""
    _ingest(
        services,
        tmp_path,
        {f"filler{i}.md": f"# Filler {i}\n\nMentoring sessions goals feedback notes {i}.\n" for i in range(8)}
        | {"award.md": "# Recognition\n\nThe Lantern Award honours mentors each year.\n"},
    )
    results = services.retriever.retrieve(query="Lantern", k=3)
    assert results[0].source == "award.md"
    assert results[0].keyword_score is not None


def test_near_duplicates_are_dropped(services: Services, tmp_path: Path) -> None:
    body = "# Feedback\n\nDescribe the situation, the behaviour and its impact, then agree a next step.\n"
    _ingest(
        services,
        tmp_path,
        {"a.md": body, "copy-of-a.md": body, "other.md": "# Other\n\nFeedback should be timely.\n"},
    )
    results = services.retriever.retrieve(query="situation behaviour impact feedback", k=3)
    sources = [r.source for r in results]
    assert len([s for s in sources if s in ("a.md", "copy-of-a.md")]) == 1
    assert "other.md" in sources

    loose = Retriever(
        embedder=services.embedder,
        store=services.store,
        settings=RetrievalSettings(duplicate_threshold=1.0, k=3),
    )
    loose_sources = [r.source for r in loose.retrieve(query="situation behaviour impact feedback")]
    assert {"a.md", "copy-of-a.md"} <= set(loose_sources)


def test_filters_restrict_sources(services: Services, tmp_path: Path) -> None:
    _ingest(
        services,
        tmp_path,
        {
            "a.md": "# A\n\nGoals and feedback.\n",
            "b.md": "# B\n\nGoals and agenda.\n",
            "c.md": "# C\n\nGoals.\n",
        },
    )
    only_b = services.retriever.retrieve(query="goals", k=5, filters={"source": "b.md"})
    assert {r.source for r in only_b} == {"b.md"}
    two = services.retriever.retrieve(query="goals", k=5, filters={"source": ["a.md", "c.md"]})
    assert {r.source for r in two} == {"a.md", "c.md"}


def test_index_refreshes_after_new_ingest(services: Services, tmp_path: Path) -> None:
    _ingest(services, tmp_path, {"a.md": "# A\n\nGoals.\n"})
    assert services.retriever.retrieve(query="zeppelin", k=1)[0].source == "a.md"  # dense still answers
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "z.md").write_text("# Z\n\nThe zeppelin exercise.\n")
    services.knowledge.ingest_paths([extra])
    assert services.retriever.retrieve(query="zeppelin", k=1)[0].source == "z.md"


@pytest.mark.parametrize(
    ("query", "filters", "message"),
    [
        ("   ", None, "query is empty"),
        ("goals", {"author": "x"}, "unknown filter"),
        ("goals", {"source": []}, "non-empty list"),
    ],
)
def test_bad_queries_are_clear_errors(services: Services, query: str, filters: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput, match=message):
        services.retriever.retrieve(query=query, filters=filters)
