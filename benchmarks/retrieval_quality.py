"""Retrieval quality on every sample corpus in one table: recall@k and MRR of dense, keyword, RRF, the
shipped ranking, the rerank with parameters chosen by k-fold cross-validation within a corpus and by
leaving the corpus out, and a plain LangChain dense baseline.

    python -m benchmarks.retrieval_quality [--corpus DIR --questions FILE] [--folds 5] [--seed 0]

With no `--corpus`, it measures the handbook (`knowledge/`, `evals/retrieval.jsonl`) and every corpus of
`evals/corpora/` (built with `evals.corpora.build`, questions in its `retrieval.jsonl`). Each corpus is
ingested with the real packaged model (ONNX Runtime) into a temp data dir (SQLite with FTS5, in-memory
Chroma), exactly as `companion ingest` does. Each question (JSONL: `question`, `sources`) is asked once
with wide candidate lists (dense top 50, keyword top 50 and the keyword scores of the dense candidates);
every ranking is then computed from those lists with the same code the retriever runs
(`companion.knowledge.retrieval.rank` and `drop_duplicates`), truncated to its own candidate counts.

recall@k: share of a question's expected guides among the guides of the top k chunks (as the eval runner
counts it); hit@k: share of questions with at least one expected guide in the top k; MRR: 1 / rank of the
first chunk from an expected guide within the top k.

Parameters of the rerank ranking (sentence weight x keyword boost x keyword candidates x guide limit) are
chosen two ways, each scored only on questions it was not chosen on:
- `--folds`-fold cross-validation within the corpus: on each fold's training questions the grid point with
  the best recall@k + MRR is picked (ties: the simpler one), and scored on the held-out questions; the row
  pools the held-out scores;
- leave one corpus out (with two or more corpora): the grid point with the best recall@k + MRR summed over
  the other corpora (each corpus counted once, whatever its size), scored on this one.
The shipped defaults are scored on all questions (`shipped`); the questions whose expected guides are not
all in its top k are listed per corpus (`shipped_misses`). The baseline `langchain_dense` splits each
file with LangChain's RecursiveCharacterTextSplitter (1000/150), embeds the pieces with the same model and
ranks by cosine. Prints one JSON object; the table (one column per corpus) also goes to stderr.
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
SENTENCE_WEIGHTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
BOOSTS = (0.0, 0.02, 0.05, 0.1)
KEYWORD_CANDIDATES = (0, 10)
CANDIDATES = (30,)
MAX_PER_SOURCE = (0, 1, 2)
WIDE = 50
SHIPPED = "shipped"
LOCO = "rerank, corpus left out (chosen on the other corpora)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="folder of guides (default: every sample corpus)")
    parser.add_argument("--questions", type=Path, help="JSONL questions for --corpus")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--no-langchain", action="store_true", help="skip the LangChain baseline")
    args = parser.parse_args()
    if (args.corpus is None) != (args.questions is None):
        parser.error("--corpus and --questions go together (or leave both out for every sample corpus)")
    tmp = Path(tempfile.mkdtemp(prefix="companion-bench-quality-"))
    try:
        corpora = (
            [(args.corpus.name, args.corpus, args.questions)]
            if args.corpus is not None
            else sample_corpora(tmp)
        )
        emit(run(args, corpora, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sample_corpora(tmp: Path) -> list[tuple[str, Path, Path]]:
    """(name, folder of guides, questions) for the handbook and every corpus of `evals/corpora/`."""
    from evals.corpora.build import CORPORA, build_corpus, corpus_names

    found = [("handbook", REPO / "knowledge", REPO / "evals" / "retrieval.jsonl")]
    for name in corpus_names():
        out = tmp / f"built-{name}"
        build_corpus(name, out)
        found.append((name, out, CORPORA / name / "retrieval.jsonl"))
    return found


def run(args: argparse.Namespace, corpora: list[tuple[str, Path, Path]], tmp: Path) -> dict[str, Any]:
    from companion.settings import Settings

    shipped = Settings().retrieval
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
    measured = {
        name: measure(name, folder, questions, args, tmp, grid) for name, folder, questions in corpora
    }
    if len(measured) > 1:
        for name, result in measured.items():
            others = [m for other, m in measured.items() if other != name]
            best = max(
                range(len(grid)),
                key=lambda g: (sum(_objective(m["grid"][g]) for m in others), *_simpler(grid[g])),
            )
            result["table"][LOCO] = result["grid"][best]
            result["left_out_chosen"] = _params(grid[best])
    k = args.k
    rows = list(dict.fromkeys(row for m in measured.values() for row in m["table"]))
    width = max(len(row) for row in rows)
    names = list(measured)
    log(f"recall@{k} / hit@{k} / MRR; " + ", ".join(
        f"{n}: {m['questions']} questions, {m['chunks']} chunks" for n, m in measured.items()
    ))  # fmt: skip
    log(f"shipped: {_label(shipped)}")
    log(f"{'ranking':<{width}}  " + "  ".join(f"{n:<19}" for n in names))
    for row in rows:
        cells = []
        for n in names:
            v = measured[n]["table"].get(row)
            cells.append(f"{v[f'recall@{k}']:.3f} {v[f'hit@{k}']:.3f} {v['mrr']:.3f}" if v else f"{'-':<19}")
        log(f"{row:<{width}}  " + "  ".join(cells))
    return {
        "benchmark": "retrieval_quality",
        "k": k,
        "runtime": args.runtime,
        "shipped": _params(shipped),
        "corpora": {
            name: {
                "corpus": str(m["corpus"]),
                "questions_file": str(m["questions_file"]),
                "questions": m["questions"],
                "chunks": m["chunks"],
                "table": m["table"],
                "cv": m["cv"],
                "left_out_chosen": m.get("left_out_chosen"),
                "shipped_misses": m["misses"],
                "grid_on_all_questions": {_label(s): m["grid"][i] for i, s in enumerate(grid)},
            }
            for name, m in measured.items()
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def measure(
    name: str, corpus: Path, questions: Path, args: argparse.Namespace, tmp: Path, grid: list[Any]
) -> dict[str, Any]:
    """One corpus: its table rows, its cross-validation and every grid point's scores on all questions."""
    from companion.container import Services
    from companion.knowledge.retrieval import Retriever
    from companion.settings import RetrievalSettings, Settings

    cases = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    settings = Settings(
        data_dir=tmp / f"data-{name}",
        embeddings={"mode": "model", "runtime": args.runtime},  # type: ignore[arg-type]
        store={"mode": "memory"},  # type: ignore[arg-type]
        seed_sample_knowledge=False,
    )
    services = Services(settings)
    services.db.create_tables()
    started = time.perf_counter()
    report = services.knowledge.ingest_paths([corpus])
    seconds = time.perf_counter() - started
    log(f"{name}: ingested {len(report.added)} guides, {report.chunks_written} chunks in {seconds:.1f}s")
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
        SHIPPED: score(shipped, everyone),
    }
    order = everyone[:]
    random.Random(args.seed).shuffle(order)
    folds = [order[i :: args.folds] for i in range(args.folds)]
    held_out: list[list[str]] = [[] for _ in cases]
    chosen = []
    for fold in folds:
        train = [i for i in everyone if i not in fold]
        best = max(grid, key=lambda s: (_objective(score(s, train)), *_simpler(s)))
        chosen.append(_params(best))
        for i in fold:
            held_out[i] = _sources(found[i], best, k)
    table["rerank, cross-validated within the corpus (held-out folds)"] = _score(held_out, expected, k)
    if not args.no_langchain:
        table["langchain_dense (RecursiveCharacterTextSplitter 1000/150)"] = _langchain(
            corpus, cases, services.embedder, k
        )
    grid_scores = [score(s, everyone) for s in grid]
    misses = [
        {"id": cases[i].get("id", str(i)), "expected": expected[i], "top": ranked(shipped, i)[:k]}
        for i in everyone
        if not set(expected[i]) <= set(ranked(shipped, i)[:k])
    ]
    services.close()
    return {
        "corpus": corpus,
        "questions_file": questions,
        "questions": len(cases),
        "chunks": report.chunks_written,
        "table": table,
        "cv": {"folds": args.folds, "seed": args.seed, "chosen_per_fold": chosen},
        "grid": grid_scores,
        "misses": misses,
    }


def _params(settings: Any) -> dict[str, Any]:
    return {
        "sentence_weight": settings.sentence_weight,
        "keyword_boost": settings.keyword_boost,
        "keyword_candidates": settings.keyword_candidates,
        "candidates": settings.candidates,
        "max_per_source": settings.max_per_source,
    }


def _label(s: Any) -> str:
    return (
        f"sw {s.sentence_weight} kb {s.keyword_boost} kc {s.keyword_candidates} c {s.candidates} "
        f"mps {s.max_per_source}"
    )


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
