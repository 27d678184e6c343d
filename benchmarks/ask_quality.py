"""Answer quality of the grounded `ask` composer on three question sets, counted as the eval run counts it.

    python -m benchmarks.ask_quality [--sets ask,handbook,kestrelway] [--limit N]

- `ask`: the cases of `evals/ask.jsonl` that have answer points (the ask suite, on the packaged guides);
- `handbook`: the questions of `evals/retrieval.jsonl` with answer points that are not in the ask suite
  (held out: the composer is not tuned on them);
- one set per sample corpus of `evals/corpora/` (`hollinvale`, `kestrelway`): the questions of its
  `retrieval.jsonl` on that corpus, built with `evals.corpora.build` (other organizations' guides, also
  held out).

Each corpus is ingested with the real packaged model (ONNX Runtime) into a temp data dir (SQLite, in-memory
Chroma) and its guide sentences are warmed, as `companion serve` does at start-up. Every question goes
through the assistant's own `ask` with policy `never` (the grounded draft, no model call), reading through
a tracing retriever so the cited chunks' texts are known. Per set: mean `key_point_coverage` and
`groundedness` (the eval runner's metrics and threshold), exact answer points, the share of questions
answered "not covered", the answer's length (words: p50 and mean; cited sentences: mean) and the draft
time (p50, p90, max). Prints one JSON object; a table goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import emit, log, percentile, r
from evals.corpora.build import build_corpus, corpus_names

REPO = Path(__file__).resolve().parent.parent
CORPORA = tuple(corpus_names())
SETS = ("ask", "handbook", *CORPORA)
_CITED = re.compile(r"\[\d+\]")


def load_sets(names: list[str], limit: int | None) -> dict[str, list[dict[str, Any]]]:
    """Per set: rows with `question` and `answer_points` (non-empty)."""

    def rows(path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    suite = [
        {"id": c["id"], "question": c["inputs"]["question"], "answer_points": c["expect"]["answer_points"]}
        for c in rows(REPO / "evals" / "ask.jsonl")
        if c["expect"].get("answer_points")
    ]
    in_suite = {" ".join(c["question"].lower().split()) for c in suite}
    handbook = [
        c
        for c in rows(REPO / "evals" / "retrieval.jsonl")
        if c.get("answer_points") and " ".join(c["question"].lower().split()) not in in_suite
    ]
    found = {"ask": suite, "handbook": handbook}
    for corpus in CORPORA:
        found[corpus] = [
            c for c in rows(REPO / "evals" / "corpora" / corpus / "retrieval.jsonl") if c.get("answer_points")
        ]
    return {name: found[name][:limit] if limit else found[name] for name in names}


def corpus_of(name: str, tmp: Path) -> Path:
    if name in CORPORA:
        out = tmp / f"{name}-built"
        build_corpus(name, out)
        return out
    return REPO / "knowledge"


def run_set(name: str, cases: list[dict[str, Any]], tmp: Path, runtime: str) -> dict[str, Any]:
    from companion.assistant.models import AskRequest
    from companion.container import Services
    from companion.evaluation import metrics as m
    from companion.evaluation import quality as q
    from companion.evaluation.runner import EVAL_PRINCIPAL, _TracingRetriever
    from companion.settings import Settings

    settings = Settings(
        data_dir=tmp / f"data-{name}",
        embeddings={"mode": "model", "runtime": runtime},  # type: ignore[arg-type]
        store={"mode": "memory"},  # type: ignore[arg-type]
        llm={"mode": "fake"},  # type: ignore[arg-type]
        seed_sample_knowledge=False,
    )
    services = Services(settings)
    services.db.create_tables()
    report = services.knowledge.ingest_paths([corpus_of(name, tmp)])
    started = time.perf_counter()
    warmed = services.warm_sentences()
    log(f"{name}: {report.chunks_written} chunks, {warmed} sentence views warmed in "
        f"{time.perf_counter() - started:.1f}s")  # fmt: skip
    threshold = settings.evals.groundedness_threshold
    coverage, grounded, exact, drafts, uncovered = [], [], [], [], 0
    words: list[int] = []
    cited_sentences: list[int] = []
    misses = []
    for case in cases:
        tracer = _TracingRetriever(services.retriever, None)
        service = services.mentoring_reading(tracer)  # type: ignore[arg-type]
        response = service.ask(EVAL_PRINCIPAL, AskRequest(question=case["question"]), policy="never")
        by_id = {c.id: c.text for c in tracer.seen}
        cited = {c.n: by_id.get(c.chunk_id, "") for c in response.citations}
        points = case["answer_points"]
        value, reason = q.key_point_coverage(response.answer, points)
        coverage.append(value)
        grounded.append(m.groundedness(response.answer, cited, threshold=threshold)[0])
        exact.append(m.answer_points(response.answer, points)[0])
        drafts.append(response.generation.draft_seconds or 0.0)
        words.append(len(response.answer.split()))
        cited_sentences.append(len(_CITED.findall(response.answer)))
        uncovered += not response.covered
        if value < 1:
            misses.append({"id": case["id"], "coverage": value, "reason": reason})
    services.close()
    return {
        "questions": len(cases),
        "key_point_coverage": r(statistics.fmean(coverage), 3),
        "groundedness": r(statistics.fmean(grounded), 3),
        "answer_points_exact": r(statistics.fmean(exact), 3),
        "not_covered": uncovered,
        "answer_words": {"p50": r(percentile(words, 50), 1), "mean": r(statistics.fmean(words), 1)},
        "answer_sentences_mean": r(statistics.fmean(cited_sentences), 2),
        "draft_seconds": {
            "p50": r(percentile(drafts, 50), 4),
            "p90": r(percentile(drafts, 90), 4),
            "max": r(max(drafts), 4),
        },
        "missed": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--limit", type=int, default=None, help="first N questions of each set")
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    args = parser.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown sets: {', '.join(unknown)}")
    tmp = Path(tempfile.mkdtemp(prefix="companion-bench-ask-"))
    try:
        started = time.perf_counter()
        results = {
            name: run_set(name, cases, tmp, args.runtime)
            for name, cases in load_sets(names, args.limit).items()
        }
        log(f"{'set':<11} {'n':>4}  coverage  grounded  exact  words p50  draft p50")
        for name, row in results.items():
            log(f"{name:<11} {row['questions']:>4}  {row['key_point_coverage']:.3f}     "
                f"{row['groundedness']:.3f}     {row['answer_points_exact']:.3f}  "
                f"{row['answer_words']['p50']:>9.0f}  "
                f"{row['draft_seconds']['p50'] * 1000:.0f} ms")  # fmt: skip
        emit(
            {
                "benchmark": "ask_quality",
                "runtime": args.runtime,
                "sets": results,
                "seconds": r(time.perf_counter() - started, 1),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
