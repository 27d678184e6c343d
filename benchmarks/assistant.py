"""Assistant latency on the embedded local model, per capability.

For each of goals, agenda, feedback and ask, sends `--requests` requests through the real app (in-process
ASGI client: routing, auth, validation and serialization included) with the real embedding model, the
handbook in an embedded Chroma and SmolLM2 through llama.cpp, and reports:
- request latency p50 / p90,
- time in the model call(s) (the `generation.model_seconds` each response reports),
- pipeline overhead as a share of request time: (latency - model time) / latency (target <= 15 %),
- how often the model's polish passed validation (origin model) versus the grounded draft answering,
- the grounded composer's own time (`generation.draft_seconds`, target <= 0.5 s) and the policy's reason.

The policy is the default `auto`: with no stored calibration the embedded local model is not called, so
this measures what a new user on the defaults gets. `--policy always` measures the model polish instead.

Usage: .venv/bin/python -m benchmarks.assistant [--requests 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import REPO_ROOT, emit, log, percentile, r

TARGET_OVERHEAD = 0.15

REQUESTS = {
    "goals": ("/v1/goals/draft", [
        {"aspiration": "become confident presenting my team's work to leadership", "max_goals": 2},
        {"aspiration": "learn to give useful code review comments", "max_goals": 2},
        {"aspiration": "move from support into a product manager role", "max_goals": 2},
    ]),
    "agenda": ("/v1/sessions/prep", [
        {"length_minutes": 45, "goals": ["Present two demos by March"], "last_notes": "Drafted the outline."},
        {"length_minutes": 60, "goals": ["Write a design doc", "Lead one retro"], "last_notes": ""},
        {"length_minutes": 30, "goals": ["Shadow a customer call"], "last_notes": "Booked two calls."},
    ]),
    "feedback": ("/v1/feedback/coach", [
        {"draft": "You are always late to our sessions and it's lazy."},
        {"draft": "Your report was not good, do better next time."},
        {"draft": "You never listen in meetings and everyone notices."},
    ]),
    "ask": ("/v1/ask", [
        {"question": "How often do mentoring sessions happen?"},
        {"question": "What can I do if my mentor and I don't get along?"},
        {"question": "Who can nominate a mentor for the Lantern Award?"},
    ]),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3, help="requests per capability")
    parser.add_argument("--policy", default="auto", choices=["auto", "always", "never"], help="polish policy")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from companion.app import create_app
    from companion.container import Services
    from companion.identity.auth import Role, create_user
    from companion.settings import Settings

    with tempfile.TemporaryDirectory(prefix="companion-bench-") as tmp:
        policy = dict.fromkeys(("goals", "agenda", "feedback", "ask"), args.policy)
        settings = Settings(
            data_dir=Path(tmp), store={"mode": "embedded"}, assistant={"policy": policy}  # type: ignore[arg-type]
        )
        services = Services(settings)
        services.db.create_tables()
        log("ingesting the handbook with the real embedding model")
        services.knowledge.ingest_paths([Path(REPO_ROOT) / "knowledge"])
        started = time.perf_counter()
        warmed = services.warm_sentences()  # what the app does in the background at start-up
        warm_seconds = time.perf_counter() - started
        log(f"embedded {warmed} guide sentences in {warm_seconds:.1f}s")
        with services.db.session() as session:
            _, token = create_user(session, name="bench", role=Role.admin)
        headers = {"Authorization": f"Bearer {token}"}
        results: dict[str, dict[str, object]] = {}
        with TestClient(create_app(settings, services=services)) as client:
            client.post("/v1/ask", headers=headers, json={"question": "warm up the model"})
            for task, (path, bodies) in REQUESTS.items():
                latencies: list[float] = []
                model: list[float] = []
                origins: list[str] = []
                drafts: list[float] = []
                reason = ""
                for i in range(args.requests):
                    body = bodies[i % len(bodies)]
                    started = time.perf_counter()
                    response = client.post(path, headers=headers, json=body)
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    info = response.json()["generation"]
                    latencies.append(elapsed)
                    model.append(float(info["model_seconds"]))
                    origins.append(info["origin"])
                    drafts.append(float(info.get("draft_seconds", 0.0)))
                    reason = info.get("policy", "")
                    model_s, origin = info["model_seconds"], info["origin"]
                    log(f"{task} #{i + 1}: {elapsed:.2f}s, model {model_s:.2f}s, {origin}")
                overhead = [(lat - m) / lat for lat, m in zip(latencies, model, strict=True)]
                results[task] = {
                    "requests": len(latencies),
                    "latency_p50_s": r(percentile(latencies, 50)),
                    "latency_p90_s": r(percentile(latencies, 90)),
                    "model_time_p50_s": r(percentile(model, 50)),
                    "overhead_share_mean": r(statistics.mean(overhead), 3),
                    "origin_model": origins.count("model"),
                    "origin_grounded": origins.count("grounded"),
                    "draft_p50_s": r(percentile(drafts, 50)),
                    "met_draft_target": percentile(drafts, 50) <= 0.5,
                    "met_latency_target": percentile(latencies, 50) <= 2.0,
                    "policy": reason,
                    "met_overhead_target": statistics.mean(overhead) <= TARGET_OVERHEAD,
                }
        services.close()
    model_name = "SmolLM2-135M-Instruct Q4_1 (llama.cpp, in-process)"
    emit({"model": model_name, "policy": args.policy, "target_overhead_share": TARGET_OVERHEAD,
          "sentences_warmed": warmed, "warm_seconds": r(warm_seconds), "capabilities": results})  # fmt: skip


if __name__ == "__main__":
    main()
