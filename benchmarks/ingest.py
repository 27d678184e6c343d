"""Ingest throughput with the real packaged embedding model.

1. Writes a deterministic synthetic corpus of Markdown guides to a temp folder.
2. Raw model throughput: `services.embedder.encode(texts)` over exactly the texts ingest will embed
   (load_bytes -> chunk_document -> Chunk.indexed_text()), same batch size, after a warm-up.
3. First ingest through `services.knowledge.ingest_paths([folder])`: chunks/s and ratio to raw.
4. Re-ingest of the unchanged corpus with the same services: time and speed-up over the first ingest.

Prints one JSON object on stdout; progress goes to stderr. All state lives in a temp dir.

    .venv/bin/python benchmarks/ingest.py [--files 200] [--seed 0] [--batch-size 64] [--threads N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import StageTimer, emit, log, markdown_guide, r, timed  # noqa: E402

TARGET_RATIO = 0.85
TARGET_SPEEDUP = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=200, help="number of Markdown guides (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="embedding batch size (default: settings)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (its path goes to stderr)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="companion-bench-ingest-"))
    try:
        emit(run(args, tmp))
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    import torch

    from companion.chunking import chunk_document
    from companion.deps import Services
    from companion.loaders import load_bytes
    from companion.settings import Settings

    embeddings: dict[str, object] = {"mode": "model"}
    if args.batch_size:
        embeddings["batch_size"] = args.batch_size
    if args.threads:
        embeddings["threads"] = args.threads
    settings = Settings(
        data_dir=tmp / "data",
        database_url=None,
        embeddings=embeddings,  # type: ignore[arg-type]
        store={"mode": "embedded"},  # type: ignore[arg-type]
        seed_sample_knowledge=False,
    )
    batch_size = settings.embeddings.batch_size

    # ---- corpus ----
    corpus = tmp / "corpus"
    corpus.mkdir()
    rng = random.Random(args.seed)
    total_bytes = 0
    for i in range(args.files):
        data = markdown_guide(rng, i).encode()
        (corpus / f"guide-{i:04d}.md").write_bytes(data)
        total_bytes += len(data)

    # exactly what ingest will embed: same files, same order, same sources, same chunking
    texts: list[str] = []
    for file in sorted(corpus.rglob("*.md")):
        source = file.relative_to(corpus).as_posix()
        loaded = load_bytes(file.read_bytes(), source)
        chunks = chunk_document(
            loaded, source=source, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
        )
        texts.extend(c.indexed_text() for c in chunks)
    log(f"corpus: {args.files} files, {total_bytes} bytes, {len(texts)} chunks, batch size {batch_size}")

    services = Services(settings)
    try:
        with timed("model load") as load:
            embedder = services.embedder
        services.db.create_tables()
        services.store.count()  # open the Chroma collection outside the timed runs (a one-off)

        with timed("warm-up"):
            embedder.encode(texts[: batch_size * 2], batch_size=batch_size)

        with timed("raw encode") as raw:
            vectors = embedder.encode(texts, batch_size=batch_size)
        assert vectors.shape[0] == len(texts)
        raw_rate = len(texts) / raw["s"]
        log(f"raw encode: {raw_rate:.1f} chunks/s")

        stages = StageTimer()
        stages.wrap(services.embedder, "encode", "embedder.encode")
        stages.wrap(services.store, "upsert", "store.upsert")
        stages.wrap(services.store, "ids_for_source", "store.ids_for_source")
        stages.wrap(services.store, "delete_ids", "store.delete_ids")
        stages.wrap(services.knowledge, "_plan", "knowledge._plan (load+chunk+hash+ids_for_source)")
        stages.wrap(services.knowledge, "_record", "knowledge._record (SQL catalogue row)")

        with timed("first ingest") as first:
            report = services.knowledge.ingest_paths([corpus])
        first_breakdown = stages.summary()
        stages.reset()
        if report.failed or report.chunks_written != len(texts) or len(report.added) != args.files:
            raise SystemExit(
                f"unexpected first ingest: written {report.chunks_written} of {len(texts)}, "
                f"added {len(report.added)}, failed {report.failed[:3]}"
            )
        ingest_rate = len(texts) / first["s"]
        log(f"first ingest: {ingest_rate:.1f} chunks/s")

        with timed("re-ingest") as again:
            report2 = services.knowledge.ingest_paths([corpus])
        re_breakdown = stages.summary()
        if report2.chunks_written or len(report2.unchanged) != args.files:
            raise SystemExit(
                f"unexpected re-ingest: written {report2.chunks_written}, unchanged {len(report2.unchanged)}"
            )
        stored = services.store.count()
    finally:
        services.close()

    ratio = ingest_rate / raw_rate
    speedup = first["s"] / again["s"]
    return {
        "benchmark": "ingest",
        "files": args.files,
        "corpus_bytes": total_bytes,
        "chunks": len(texts),
        "chunks_stored": stored,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "model_load_s": r(load["s"]),
        "raw_encode_s": r(raw["s"]),
        "raw_encode_chunks_per_s": r(raw_rate, 1),
        "first_ingest_s": r(first["s"]),
        "ingest_chunks_per_s": r(ingest_rate, 1),
        "ingest_vs_raw_ratio": r(ratio, 3),
        "reingest_s": r(again["s"], 3),
        "reingest_ms_per_file": r(again["s"] * 1000 / args.files, 2),
        "reingest_speedup": r(speedup, 1),
        "first_ingest_breakdown": first_breakdown,
        "reingest_breakdown": re_breakdown,
        "targets": {"ingest_vs_raw_ratio": f">= {TARGET_RATIO}", "reingest_speedup": f">= {TARGET_SPEEDUP}"},
        "met": {"ingest_vs_raw_ratio": ratio >= TARGET_RATIO, "reingest_speedup": speedup >= TARGET_SPEEDUP},
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


if __name__ == "__main__":
    main()
