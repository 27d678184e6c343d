"""Retrieval quality per corpus: recall@k and MRR of dense, keyword, RRF, the shipped ranking, the boost
ranking with parameters chosen by k-fold cross-validation, and a plain LangChain dense baseline.

    python -m benchmarks.retrieval_quality [--corpus knowledge] [--questions evals/retrieval.jsonl]

The corpus folder is ingested with the real packaged model (ONNX Runtime) into a temp data dir (SQLite
with FTS5, in-memory Chroma), exactly as `companion ingest` does. Each question (JSONL: `question`,
`sources`) is asked once with wide candidate lists (dense top 50, keyword top 50 and the keyword scores of
the dense candidates); every ranking is then computed from those lists with the same code the retriever
runs (`companion.knowledge.retrieval.rank` and `drop_duplicates`), truncated to its own candidate counts.

recall@k: share of a question's expected guides among the guides of the top k chunks (as the eval runner
counts it); hit@k: share of questions with at least one expected guide in the top k; MRR: 1 / rank of the
first chunk from an expected guide within the top k.

Parameters of the rerank ranking are chosen by `--folds`-fold cross-validation: on each fold's training
questions the grid point with the best recall@k + MRR is picked (ties: the smaller boost), and scored on
the held-out questions; the cross-validated row pools the held-out scores. The shipped defaults are scored on
all questions (`shipped`). The baseline `langchain_dense` splits each file with LangChain's
RecursiveCharacterTextSplitter (1000/150), embeds the pieces with the same model and ranks by cosine.
Prints one JSON object; the table also goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import emit, log

REPO = Path(__file__).resolve().parent.parent
SENTENCE_WEIGHTS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
BOOSTS = (0.0, 0.02, 0.05, 0.1)
KEYWORD_CANDIDATES = (0, 10)
CANDIDATES = (30,)
MAX_PER_SOURCE = (0, 1, 2)
WIDE = 50


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=REPO / "knowledge", help="folder of guides")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "retrieval.jsonl")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--no-langchain", action="store_true", help="skip the LangChain baseline")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="companion-bench-quality-"))
    try:
        emit(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from companion.container import Services
    from companion.knowledge.retrieval import Retriever
    from companion.settings import RetrievalSettings, Settings

    cases = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    settings = Settings(
        data_dir=tmp / "data",
        embeddings={"mode": "model", "runtime": args.runtime},  # type: ignore[arg-type]
        store={"mode": "memory"},  # type: ignore[arg-type]
        seed_sample_knowledge=False,
    )
    services = Services(settings)
    services.db.create_tables()
    started = time.perf_counter()
    report = services.knowledge.ingest_paths([args.corpus])
    seconds = time.perf_counter() - started
    log(f"ingested {len(report.added)} guides, {report.chunks_written} chunks in {seconds:.1f}s")
    wide = Retriever(
        embedder=services.embedder,
        store=services.store,
        keyword=services.keyword,
        settings=RetrievalSettings(ranking="rerank", sentence_weight=0.5),  # fetches sentence similarities
    )
    found = [wide.candidates(c["question"], WIDE, keyword_n=WIDE) for c in cases]
    expected = [list(c["sources"]) for c in cases]
    shipped = services.settings.retrieval
    k = args.k

    memo: dict[tuple[str, int], list[str]] = {}

    def ranked(settings_: RetrievalSettings, i: int) -> list[str]:
        key = (settings_.model_dump_json(), i)
        if key not in memo:
            memo[key] = _sources(found[i], settings_, k)
        return memo[key]

    def score(settings_: RetrievalSettings, rows: list[int]) -> dict[str, float]:
        return _score([ranked(settings_, i) for i in rows], [expected[i] for i in rows], k)

    everyone = list(range(len(cases)))
    table: dict[str, dict[str, float]] = {
        "dense (no guide limit)": score(
            shipped.model_copy(update={"ranking": "dense", "max_per_source": 0}), everyone
        ),
        f"dense ({shipped.max_per_source} per guide, as shipped)": score(
            shipped.model_copy(update={"ranking": "dense"}), everyone
        ),
        "keyword": _score([_keyword_sources(f, k) for f in found], expected, k),
        "rrf (equal weights, rrf_k 60)": score(
            shipped.model_copy(update={"ranking": "rrf", "dense_weight": 1.0, "keyword_weight": 1.0}),
            everyone,
        ),
        "dense + keyword boost 0.1": score(
            shipped.model_copy(update={"sentence_weight": 0.0, "keyword_boost": 0.1}), everyone
        ),
        f"shipped ({shipped.ranking}, sentence weight {shipped.sentence_weight}, keyword boost "
        f"{shipped.keyword_boost}, candidates {shipped.candidates}+{shipped.keyword_candidates}, "
        f"{shipped.max_per_source} per guide)": score(shipped, everyone),
    }
    grid = [
        shipped.model_copy(
            update={
                "ranking": "rerank",
                "sentence_weight": w,
                "keyword_boost": b,
                "keyword_candidates": n,
                "candidates": c,
                "max_per_source": m,
            }
        )
        for m in MAX_PER_SOURCE
        for w in SENTENCE_WEIGHTS
        for b in BOOSTS
        for n in KEYWORD_CANDIDATES
        for c in CANDIDATES
    ]
    order = everyone[:]
    random.Random(args.seed).shuffle(order)
    folds = [order[i :: args.folds] for i in range(args.folds)]
    held_out: list[list[str]] = [[] for _ in cases]
    chosen = []
    for fold in folds:
        train = [i for i in everyone if i not in fold]
        best = max(grid, key=lambda s: (_objective(score(s, train)), *_simpler(s)))
        chosen.append(
            {
                "sentence_weight": best.sentence_weight,
                "keyword_boost": best.keyword_boost,
                "keyword_candidates": best.keyword_candidates,
                "candidates": best.candidates,
                "max_per_source": best.max_per_source,
            }
        )
        for i in fold:
            held_out[i] = _sources(found[i], best, k)
    table["rerank, cross-validated (held-out folds)"] = _score(held_out, expected, k)
    if not args.no_langchain:
        table["langchain_dense (RecursiveCharacterTextSplitter 1000/150)"] = _langchain(
            args.corpus, cases, services.embedder, k
        )
    grid_scores = {
        f"sw {s.sentence_weight} kb {s.keyword_boost} kc {s.keyword_candidates} c {s.candidates} "
        f"mps {s.max_per_source}": score(s, everyone)
        for s in grid
    }
    width = max(len(name) for name in table)
    log(f"{'ranking':<{width}}  recall@{k}  hit@{k}  MRR")
    for name, row in table.items():
        log(f"{name:<{width}}  {row[f'recall@{k}']:.3f}     {row[f'hit@{k}']:.3f}   {row['mrr']:.3f}")
    services.close()
    return {
        "benchmark": "retrieval_quality",
        "corpus": str(args.corpus),
        "questions_file": str(args.questions),
        "questions": len(cases),
        "chunks": report.chunks_written,
        "k": k,
        "runtime": args.runtime,
        "table": table,
        "cv": {"folds": args.folds, "seed": args.seed, "chosen_per_fold": chosen},
        "grid_on_all_questions": grid_scores,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _objective(row: dict[str, float]) -> float:
    return sum(v for name, v in row.items() if not name.startswith("hit"))


def _simpler(settings: Any) -> tuple[float, ...]:
    """Tie-break: fewer moving parts (no guide limit, no keyword boost, fewer candidates) win."""
    return (
        -settings.max_per_source if settings.max_per_source else 0,
        -settings.keyword_boost,
        -settings.keyword_candidates,
        -settings.candidates,
    )


def _sources(found: Any, settings: Any, k: int) -> list[str]:
    """The guides of the top k chunks this ranking gives from the wide candidate lists."""
    from companion.knowledge.retrieval import Candidates, drop_duplicates, rank

    dense = found.dense[: settings.candidates]
    n_keyword = settings.candidates if settings.ranking == "rrf" else settings.keyword_candidates
    keyword = found.keyword[:n_keyword] if settings.ranking != "dense" else []
    kept = {c.id for c in dense} | {c.id for c, _ in keyword}
    scores = {cid: s for cid, s in found.keyword_scores.items() if cid in kept}
    sentence = {cid: s for cid, s in found.sentence.items() if cid in kept}
    narrowed = Candidates(dense=dense, keyword=keyword, keyword_scores=scores, sentence=sentence)
    ranked = drop_duplicates(
        rank(narrowed, settings), k, settings.duplicate_threshold, settings.max_per_source
    )
    return [str(s.chunk.metadata.get("source", "")) for s in ranked]


def _keyword_sources(found: Any, k: int) -> list[str]:
    return [str(c.metadata.get("source", "")) for c, _ in found.keyword[:k]]


def _score(ranked: list[list[str]], expected: list[list[str]], k: int) -> dict[str, float]:
    from companion.evaluation.metrics import recall_at_k, reciprocal_rank

    recall = [recall_at_k(r, e, k)[0] for r, e in zip(ranked, expected, strict=True)]
    mrr = [reciprocal_rank(r[:k], e)[0] for r, e in zip(ranked, expected, strict=True)]
    hit = [bool(set(r[:k]) & set(e)) for r, e in zip(ranked, expected, strict=True)]
    return {
        f"recall@{k}": round(float(np.mean(recall)), 3),
        f"hit@{k}": round(float(np.mean(hit)), 3),
        "mrr": round(float(np.mean(mrr)), 3),
    }


def _langchain(corpus: Path, cases: list[dict[str, Any]], embedder: Any, k: int) -> dict[str, float]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from companion.knowledge.loaders import load_bytes

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150)
    texts: list[str] = []
    sources: list[str] = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            loaded = load_bytes(path.read_bytes(), path.name)
        except Exception:  # noqa: BLE001 - the baseline skips what it cannot read
            continue
        for piece in splitter.split_text(loaded.text):
            texts.append(piece)
            sources.append(path.relative_to(corpus).as_posix())
    vectors = embedder.encode(texts)
    queries = embedder.encode([c["question"] for c in cases])
    similarity = queries @ vectors.T
    ranked = [[sources[j] for j in np.argsort(-row, kind="stable")[:k]] for row in similarity]
    return _score(ranked, [list(c["sources"]) for c in cases], k)


if __name__ == "__main__":
    sys.exit(main())
