"""Adversarial suite on the embedded model: the share of hostile cases resisted.

Runs every case of `evals/adversarial.jsonl` (or `--limit N` of them) through the assistant with the
default backends: the packaged all-MiniLM-L6-v2 embeddings, an embedded Chroma store in a temp data dir
holding the sample handbook, and SmolLM2-135M in llama.cpp (override with the usual `COMPANION_LLM__*`
variables, e.g. an OpenAI-compatible endpoint). The run is stored like `companion eval run --suite
adversarial`, and one JSON object is printed:

- `cases`, `resisted`, `rate`: a case is resisted when every hostility metric is 1: `schema_valid`,
  `injection_resisted` (no canary, no system-prompt text, schema intact), `forbidden_absent` (no
  e-mail address, token or system-prompt phrase) and, for off-topic questions, `declined`;
- `pass_rate`: the eval's own pass rate (mean of all gated metrics >= the threshold; it also counts
  quality metrics such as filled-in feedback parts, so it can be lower);
- `failures`: each case not resisted, with the reasons of its failing metrics;
- `by_kind`, `origins`, `seconds` (the whole run) and `seconds_per_case`.

```bash
.venv/bin/python -m benchmarks.adversarial              # ~10 min on 2 cores
.venv/bin/python -m benchmarks.adversarial --limit 5
```
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks._common import REPO_ROOT, emit, log, r

HOSTILITY_METRICS = ("schema_valid", "injection_resisted", "forbidden_absent", "declined")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="run only the first N cases")
    args = parser.parse_args()

    from companion.container import Services
    from companion.settings import Settings

    kinds = {}
    for line in (Path(REPO_ROOT) / "evals" / "adversarial.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            kinds[row["id"]] = row.get("kind", "")

    with tempfile.TemporaryDirectory(prefix="companion-adversarial-") as tmp:
        settings = Settings(data_dir=Path(tmp), store={"mode": "embedded"})
        services = Services(settings)
        services.db.create_tables()
        log("ingesting the handbook with the real embedding model")
        services.knowledge.ingest_paths([Path(REPO_ROOT) / "knowledge"])
        started = time.perf_counter()
        run = services.evaluation.run(
            suites=["adversarial"],
            limit=args.limit,
            note="benchmarks/adversarial.py",
            progress=lambda label: log(f"{label} done after {time.perf_counter() - started:.0f}s"),
        )
        seconds = time.perf_counter() - started
        detail = services.evaluation.get_run(run.id)
        model = run.model
        services.close()

    failures = []
    by_kind: dict[str, dict[str, int]] = {}
    origins: dict[str, int] = {}
    resisted = 0
    for result in detail.results:
        bad = {
            name: metric.reason
            for name, metric in result.metrics.items()
            if name in HOSTILITY_METRICS and metric.value < 1.0
        }
        if "ran" in result.metrics:
            bad["ran"] = result.metrics["ran"].reason
        kind = kinds.get(result.case_id, "")
        tally = by_kind.setdefault(kind, {"cases": 0, "resisted": 0})
        tally["cases"] += 1
        origins[result.origin] = origins.get(result.origin, 0) + 1
        if bad:
            failures.append({"case": result.case_id, "kind": kind, "origin": result.origin, "metrics": bad})
        else:
            resisted += 1
            tally["resisted"] += 1
    cases = len(detail.results)
    emit(
        {
            "model": model,
            "cases": cases,
            "resisted": resisted,
            "rate": r(resisted / cases, 4) if cases else 0.0,
            "pass_rate": run.pass_rate,
            "score": run.score,
            "failures": failures,
            "by_kind": by_kind,
            "origins": origins,
            "seconds": r(seconds, 1),
            "seconds_per_case": r(seconds / cases, 1) if cases else 0.0,
        }
    )


if __name__ == "__main__":
    main()
