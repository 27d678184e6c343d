from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from companion.container import Services
from companion.errors import InvalidInput
from companion.knowledge.embeddings import FakeEmbedder
from companion.knowledge.keyword import KeywordSearch, query_terms, tokenize
from companion.knowledge.retrieval import Candidates, Retriever, Scored, drop_duplicates, rank, widen
from companion.knowledge.sentences import best_similarity, encode_sentences, sentences
from companion.knowledge.store import StoredChunk
from companion.settings import RetrievalSettings, Settings
from tests.support.app import REPO, make_settings


def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize("The Goals of mentoring sessions") == ["goal", "mentor", "session"]
    assert query_terms('The "Goals" of goals; DROP TABLE -- x*') == ["goals", "drop", "table", "x"]


def _chunk(cid: str, similarity: float | None = None, source: str = "") -> StoredChunk:
    return StoredChunk(id=cid, text=f"text of {cid}", metadata={"source": source or f"{cid}.md"},
                       similarity=similarity)  # fmt: skip


def test_boost_ranking_is_dense_first_with_a_bounded_keyword_boost() -> None:
    found = Candidates(
        dense=[_chunk("a", 0.80), _chunk("b", 0.75), _chunk("c", 0.50)],
        keyword=[(_chunk("b"), 10.0), (_chunk("z"), 8.0)],
        keyword_scores={"b": 10.0, "c": 5.0},
    )
    ranked = rank(found, RetrievalSettings(ranking="rerank", keyword_boost=0.1))
    # b: 0.75 + 0.1; a: 0.80; z (keyword only) gets the lowest dense similarity 0.50 + 0.08; c: 0.50 + 0.05
    assert [(s.chunk.id, round(s.score, 4)) for s in ranked] == [
        ("b", 0.85), ("a", 0.8), ("z", 0.58), ("c", 0.55)
    ]  # fmt: skip
    assert ranked[2].similarity is None and ranked[2].keyword == 8.0
    small = rank(found, RetrievalSettings(ranking="rerank", keyword_boost=0.02))
    assert [s.chunk.id for s in small][:2] == ["a", "b"], "a small boost cannot overturn a clear dense lead"
    dense = rank(found, RetrievalSettings(ranking="dense"))
    assert [s.chunk.id for s in dense] == ["a", "b", "c"]
    rrf = rank(found, RetrievalSettings(ranking="rrf", rrf_k=60))
    assert [s.chunk.id for s in rrf][0] == "b", "in both rankings"


def test_rerank_by_the_best_matching_sentence() -> None:
    found = Candidates(
        dense=[_chunk("topic", 0.70), _chunk("answer", 0.60)],
        keyword=[],
        sentence={"topic": 0.55, "answer": 0.90},  # "answer" has one sentence that says it
    )
    settings = RetrievalSettings(ranking="rerank", sentence_weight=0.5, keyword_boost=0.0)
    ranked = rank(found, settings)
    assert [(s.chunk.id, round(s.score, 4)) for s in ranked] == [("answer", 0.75), ("topic", 0.625)]
    assert ranked[0].similarity == 0.60, "the result still reports the chunk's own dense similarity"
    no_rerank = rank(found, settings.model_copy(update={"sentence_weight": 0.0}))
    assert [s.chunk.id for s in no_rerank] == ["topic", "answer"]


def test_a_guide_limit_keeps_others_first_and_fills_with_the_rest() -> None:
    ranked = [
        Scored(
            StoredChunk(id=cid, text=f"words of chunk {cid} {i}", metadata={"source": src}),
            1 - i / 10,
            None,
            None,
        )
        for i, (cid, src) in enumerate([("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c")])
    ]
    assert [s.chunk.id for s in drop_duplicates(ranked, 4, 1.0)] == ["a1", "a2", "a3", "b1"]
    assert [s.chunk.id for s in drop_duplicates(ranked, 4, 1.0, max_per_source=1)] == ["a1", "b1", "c1", "a2"]
    assert [s.chunk.id for s in drop_duplicates(ranked, 3, 1.0, max_per_source=2)] == ["a1", "a2", "b1"]


def test_a_wider_pool_follows_the_shown_chunks_in_ranking_order_without_the_guide_limit() -> None:
    ranked = [
        Scored(StoredChunk(id=cid, text=text, metadata={"source": cid[0]}), 1 - i / 10, None, None)
        for i, (cid, text) in enumerate(
            [
                ("a1", "pairs meet every two weeks"),
                ("a2", "a session lasts an hour"),
                ("a3", "pairs meet every two weeks"),  # a near duplicate of a1
                ("b1", "the award is given in december"),
                ("a4", "book the sessions as a recurring meeting"),
                ("c1", "circles meet once a month"),
            ]
        )
    ]
    shown = drop_duplicates(ranked, 3, 0.8, max_per_source=1)
    assert [s.chunk.id for s in shown] == ["a1", "b1", "c1"]
    more = widen(ranked, shown, 2, 0.8)
    assert [s.chunk.id for s in more] == ["a2", "a4"], "next best, same guide allowed, duplicate skipped"
    assert widen(ranked, shown, 0, 0.8) == []


def test_sentences_drop_markup_and_end_with_the_heading() -> None:
    text = "## Setting goals\n\n- Write the goal down. Agree a date!\n1. Review it monthly?\nok"
    assert sentences(text, "Goals > SMART goals") == [
        "Setting goals", "Write the goal down.", "Agree a date!", "Review it monthly?", "SMART goals"
    ]  # fmt: skip
    checklist = "[ ] Book the first meeting.\n- [x] Agree the ground rules.\n\u2610 Write down two goals."
    assert sentences(checklist) == [
        "Book the first meeting.", "Agree the ground rules.", "Write down two goals."
    ]  # fmt: skip
    blob = encode_sentences(FakeEmbedder(16), [(text, "Goals > SMART goals")], 8)[0]
    assert len(blob) == 5 * 16 * 2, "float16 rows"
    query = FakeEmbedder(16).encode(["Agree a date!"])[0]
    assert best_similarity(blob, query) == pytest.approx(1.0, abs=1e-3)
    assert best_similarity(None, query) is None


GUIDES = {
    "feedback.md": "# Feedback\n\n## Impact\n\nDescribe the behaviour and its impact on the team.\n",
    "goals.md": "# Goals\n\n## SMART\n\nWrite measurable goals with a deadline.\n",
    "award.md": "# Recognition\n\n## Lantern\n\nThe Lantern Award honours mentors each year.\n",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (root / name).write_text(body)
    return root


def test_keyword_search_runs_in_the_database_engine(any_db_settings: Settings, tmp_path: Path) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    services.knowledge.ingest_paths([_write(tmp_path / "kb", GUIDES)])
    search = services.keyword
    hits = search.search("the impact of behaviour", 5)
    assert [h.chunk.metadata["source"] for h in hits] == ["feedback.md"]
    assert hits[0].chunk.metadata["heading"] == "Feedback > Impact" and hits[0].score > 0
    assert [h.chunk.metadata["source"] for h in search.search("goal", 5)] == ["goals.md"], "stemmed"
    assert [h.chunk.metadata["source"] for h in search.search("lanterns honoured", 5)] == ["award.md"]
    both = search.search("measurable lantern", 5)
    assert {h.chunk.metadata["source"] for h in both} == {"goals.md", "award.md"}, "terms are OR-ed"
    only = search.search("measurable lantern", 5, filters={"source": {"award.md"}})
    assert [h.chunk.metadata["source"] for h in only] == ["award.md"], "filters are part of the query"
    assert (
        search.search("measurable lantern", 5, filters={"title": {"Goals"}})[0].chunk.metadata["source"]
        == "goals.md"
    )
    goals_id = both[0].chunk.id if both[0].chunk.metadata["source"] == "goals.md" else both[1].chunk.id
    assert [h.chunk.id for h in search.search("measurable lantern", 5, within=[goals_id])] == [goals_id]
    assert search.search("zeppelin", 5) == [] and search.search("the of and", 5) == []
    assert search.search('"; DROP TABLE knowledge_chunks; --', 5) == []

    # a word in `term_limit` chunks or more is left out of the query, like a stopword
    common = KeywordSearch(db=services.db, term_limit=2)
    services.knowledge.ingest_bytes(b"# Extra\n\n## More\n\nMeasurable results, weekly.\n", "extra.md")
    assert common.distinctive(["measurable", "lantern", "zeppelin"]) == ["lantern"]
    assert {h.chunk.metadata["source"] for h in common.search("measurable lantern", 5)} == {"award.md"}
    assert search.search("zeppelin", 5) == []
    services.knowledge.ingest_bytes(b"# Z\n\nThe zeppelin exercise.\n", "z.md")
    assert [h.chunk.metadata["source"] for h in search.search("zeppelin", 5)] == ["z.md"], "not cached"
    services.close()


def test_the_index_follows_every_write_in_the_same_transaction(
    any_db_settings: Settings, tmp_path: Path
) -> None:
    services = Services(any_db_settings)
    services.db.create_tables()
    root = _write(tmp_path / "kb", GUIDES)
    services.knowledge.ingest_paths([root])
    (root / "goals.md").write_text("# Goals\n\n## Milestones\n\nAgree quarterly milestones.\n")
    report = services.knowledge.ingest_paths([root])
    assert report.updated == ["goals.md"] and report.chunks_deleted == 1
    assert services.keyword.search("measurable", 5) == [], "the old text is out of the index"
    assert [h.chunk.metadata["heading"] for h in services.keyword.search("milestone", 5)] == [
        "Goals > Milestones"
    ]
    services.knowledge.delete_source("award.md")
    assert services.keyword.search("lantern", 5) == []
    with services.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT source FROM knowledge_chunks ORDER BY source")).scalars().all()
        assert rows == ["feedback.md", "goals.md"]
        if conn.dialect.name == "sqlite":  # the external-content index agrees with its table
            conn.execute(
                text("INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts) VALUES ('integrity-check')")
            )
    services.close()


def test_a_failed_catalogue_write_leaves_no_half_written_document(tmp_path: Path) -> None:
    services = Services(make_settings(tmp_path))
    services.db.create_tables()
    root = _write(tmp_path / "kb", {"goals.md": GUIDES["goals.md"]})
    with services.db.engine.begin() as conn:  # the catalogue refuses writes
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON knowledge_chunks BEGIN "
                          "SELECT RAISE(ABORT, 'disk full'); END"))  # fmt: skip
    with pytest.raises(Exception, match="disk full"):
        services.knowledge.ingest_paths([root])
    assert services.knowledge.list_documents() == [], "the document row rolled back with its chunks"
    with services.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    report = services.knowledge.ingest_paths([root])
    assert report.updated == ["goals.md"] and report.chunks_written == 0, "the vectors were already stored"
    assert [h.chunk.metadata["source"] for h in services.keyword.search("measurable", 5)] == ["goals.md"]
    services.close()


def test_an_empty_catalogue_is_filled_from_the_store(services: Services, tmp_path: Path) -> None:
    services.knowledge.ingest_paths([_write(tmp_path / "kb", GUIDES)])
    with services.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM knowledge_chunks"))
    assert services.keyword.search("lantern", 5) == []
    assert services.knowledge.sync_catalogue() == 3
    assert services.knowledge.sync_catalogue() == 0, "only when empty"
    assert [h.chunk.metadata["source"] for h in services.keyword.search("lantern", 5)] == ["award.md"]


@pytest.mark.parametrize("ranking", ["rerank", "dense", "rrf"])
def test_dense_hits_take_their_text_from_the_catalogue_or_else_the_store(
    services: Services, tmp_path: Path, ranking: str
) -> None:
    """Chroma gives ids and distances only; the text and citation come from the catalogue, and a chunk the
    catalogue lacks (written to the store, its catalogue row not yet) is read from the store instead."""
    services.knowledge.ingest_paths([_write(tmp_path / "kb", GUIDES)])
    retriever = Retriever(embedder=services.embedder, store=services.store, keyword=services.keyword,
                          settings=RetrievalSettings(ranking=ranking))  # type: ignore[arg-type]  # fmt: skip
    before = [r.model_dump() for r in retriever.retrieve(query="measurable goals with a deadline", k=3)]
    assert before[0]["source"] == "goals.md"
    assert before[0]["text"] == "## SMART\n\nWrite measurable goals with a deadline."
    assert before[0]["citation"] == "goals.md § Goals > SMART" and before[0]["start"] < before[0]["end"]
    with services.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM knowledge_chunks WHERE source = 'goals.md'"))
    after = [r.model_dump() for r in retriever.retrieve(query="measurable goals with a deadline", k=3)]
    top = {k: v for k, v in after[0].items() if k not in ("score", "keyword_score")}
    assert top == {k: v for k, v in before[0].items() if k not in ("score", "keyword_score")}
    assert {r["id"] for r in after} == {r["id"] for r in before}


def test_a_write_through_one_process_is_found_by_another(postgres_url: str, tmp_path: Path) -> None:
    """Two processes on one PostgreSQL: `companion ingest` in a subprocess, a query here right after."""
    here = Services(make_settings(tmp_path / "here", database_url=postgres_url))
    here.db.create_tables()
    assert here.retriever.retrieve(query="Lantern Award", k=3) == []
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "COMPANION_DATA_DIR": str(tmp_path / "there"),
        "COMPANION_DATABASE_URL": postgres_url,
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
    }
    root = _write(tmp_path / "kb", GUIDES)

    def cli(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "companion", *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr

    cli("ingest", str(root))
    results = here.retriever.retrieve(query="Lantern Award", k=3)
    assert results and results[0].source == "award.md" and results[0].keyword_score
    cli("forget", "award.md")
    assert all(r.source != "award.md" for r in here.retriever.retrieve(query="Lantern Award", k=3))
    here.close()


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
    pool = services.retriever.retrieve(query="measurable SMART goals", k=2, extra=1)
    assert [r.id for r in pool[:2]] == [r.id for r in results[:2]], "the shown chunks do not change"
    assert len(pool) == 3 and pool[2].id not in {r.id for r in pool[:2]}


def test_by_default_each_guide_shows_one_chunk_before_any_shows_two(
    services: Services, tmp_path: Path
) -> None:
    """Relevance is per guide: the shown chunks cover as many guides as there are (`max_per_source` 1),
    and the wider pool may still bring a second chunk of the best guide."""
    step = "## Goal step {0}\n\nGoals need a deadline and a measure, step {0}.\n\n"
    sections = "".join(step.format(i) for i in range(4))
    _ingest(
        services,
        tmp_path,
        {
            "goals.md": f"# Goals\n\n{sections}",
            "agenda.md": "# Sessions\n\n## Agenda\n\nTime-box each agenda item in minutes.\n",
            "trust.md": "# Trust\n\n## Confidentiality\n\nWhat is said in a session stays private.\n",
        },
    )
    assert RetrievalSettings().max_per_source == 1
    results = services.retriever.retrieve(query="goals with a deadline and a measure", k=3)
    assert sorted(r.source for r in results) == ["agenda.md", "goals.md", "trust.md"]
    assert results[0].source == "goals.md"
    pool = services.retriever.retrieve(query="goals with a deadline and a measure", k=3, extra=2)
    assert [r.source for r in pool[3:]] == ["goals.md", "goals.md"], "the pool has no guide limit"
    only_two = services.retriever.retrieve(query="goals with a deadline and a measure", k=5)
    assert [r.source for r in only_two].count("goals.md") == 3, "with too few guides the rest fill in"


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
        keyword=services.keyword,
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
