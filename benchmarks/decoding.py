"""Local decoding speed: tokens/s without a grammar, with llama-cpp-python's grammar sampling, and with
the lazy grammar sampler (`companion.assistant.sampling`), on the packaged SmolLM2 (or --model).

For each assistant task whose reply is constrained (goals, agenda, feedback) the real prompt is rendered
from `prompts/` with two fixed handbook excerpts, and the same messages are decoded in three modes:

- `unconstrained`: no `response_format`;
- `grammar_full`: `response_format` with the task's JSON schema on plain `llama_cpp.Llama` (the grammar
  masks the whole vocabulary at every token);
- `grammar_lazy`: the same on `LazyGrammarLlama` (the grammar checks the sampled token first and masks
  the vocabulary only when it refuses it).

Each run is a full `create_chat_completion` with the settings' temperature, repeat penalty and seed, and
the same max tokens; the prompt is decoded once before timing (a warm-up run per mode), so the figures
are decoding speed plus the per-call grammar set-up. Modes are interleaved run by run, so a busy machine
slows them alike. tokens/s = completion tokens / wall seconds, summed over runs. `ratio_*` is the
constrained rate over the unconstrained one (target: `ratio_lazy` >= 0.8). `valid_json` counts replies
that parse into the task's pydantic model. `lazy_resampled_share`: tokens whose first draw the grammar
refused; `lazy_resamples_on_shortlist`: those settled by masking the 1,024 best logits, not all of them.

Usage: python -m benchmarks.decoding [--runs 3] [--max-tokens 200] [--model PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks._common import emit, log, r

EXCERPTS = [
    {
        "n": 1,
        "citation": "goal-setting.md § Writing SMART goals",
        "text": "A good goal names one thing the mentee will do, how progress is counted and a date. "
        "Break a large goal into first steps that fit in the next two weeks.",
    },
    {
        "n": 2,
        "citation": "sessions.md § Preparing a session",
        "text": "Agree on the agenda before the session, keep time for questions, and end each session "
        "with one action the mentee owns.",
    },
]


def tasks() -> list[tuple[str, dict[str, Any], type[Any]]]:
    from companion.assistant.models import DraftAgenda, DraftFeedback, DraftGoals

    today = date(2026, 1, 12)
    return [
        (
            "goals",
            {
                "aspiration": "become confident presenting my team's work to leadership",
                "context": "",
                "max_goals": 2,
                "today": today.isoformat(),
                "horizon_date": (today + timedelta(weeks=12)).isoformat(),
                "excerpts": EXCERPTS,
            },
            DraftGoals,
        ),
        (
            "agenda",
            {
                "length_minutes": 45,
                "goals": ["Present two demos by March"],
                "last_notes": "Drafted the outline of the first demo.",
                "excerpts": EXCERPTS,
            },
            DraftAgenda,
        ),
        (
            "feedback",
            {
                "draft": "Your report was not good, do better next time.",
                "context": "",
                "flagged": ["vague: says what was wrong without saying what happened"],
                "excerpts": EXCERPTS,
            },
            DraftFeedback,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per task and mode")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: the packaged one)")
    parser.add_argument(
        "--threads", type=int, default=1, help="llama.cpp threads (1: steadiest on a shared machine)"
    )
    args = parser.parse_args()

    from llama_cpp import Llama
    from pydantic import ValidationError

    from companion.assistant.llm import grammar_schema, packaged_gguf_path
    from companion.assistant.prompts import PromptLibrary
    from companion.assistant.sampling import LazyGrammarLlama
    from companion.settings import LLMSettings

    settings = LLMSettings()
    path = args.model or packaged_gguf_path()
    threads = args.threads
    common = {"model_path": str(path), "n_ctx": settings.context_size, "n_threads": threads, "verbose": False}
    plain, lazy = Llama(seed=settings.seed, **common), LazyGrammarLlama(seed=settings.seed, **common)
    prompts = PromptLibrary()
    options = {
        "temperature": settings.temperature,
        "repeat_penalty": settings.repeat_penalty,
        "max_tokens": args.max_tokens,
        "seed": settings.seed,
    }
    modes = ("unconstrained", "grammar_full", "grammar_lazy")
    result: dict[str, Any] = {
        "model": path.name,
        "threads": threads,
        "max_tokens": args.max_tokens,
        "runs": args.runs,
        "tasks": {},
    }
    totals = {m: [0, 0.0] for m in modes}
    resampled = [0, 0, 0]  # refused first draws, tokens, refusals settled on the shortlist

    for name, variables, schema in tasks():
        messages = [{"role": m.role, "content": m.content} for m in prompts.render(name, **variables)]
        fmt = {"type": "json_object", "schema": grammar_schema(schema.model_json_schema())}
        calls = {
            "unconstrained": (plain, {}),
            "grammar_full": (plain, {"response_format": fmt}),
            "grammar_lazy": (lazy, {"response_format": fmt}),
        }
        per: dict[str, Any] = {m: {"tokens": 0, "seconds": 0.0, "valid_json": 0} for m in modes}
        texts: dict[str, str] = {}
        for mode in modes:  # warm-up: the prompt is decoded once per model
            model, extra = calls[mode]
            model.create_chat_completion(messages=messages, **options, **extra)
        for _ in range(args.runs):
            for mode in modes:
                model, extra = calls[mode]
                started = time.perf_counter()
                reply: Any = model.create_chat_completion(messages=messages, **options, **extra)
                seconds = time.perf_counter() - started
                text = reply["choices"][0]["message"]["content"] or ""
                per[mode]["tokens"] += reply["usage"]["completion_tokens"]
                per[mode]["seconds"] += seconds
                texts[mode] = text
                if mode != "unconstrained":
                    try:
                        schema.model_validate(json.loads(text))
                        per[mode]["valid_json"] += 1
                    except (ValueError, ValidationError):
                        pass
                if mode == "grammar_lazy" and lazy.last_sampler is not None:
                    resampled[0] += lazy.last_sampler.resampled
                    resampled[1] += lazy.last_sampler.tokens
                    resampled[2] += lazy.last_sampler.shortlisted
        for mode in modes:
            per[mode]["tokens_per_s"] = r(per[mode]["tokens"] / per[mode]["seconds"], 1)
            per[mode]["seconds"] = r(per[mode]["seconds"], 2)
            totals[mode][0] += per[mode]["tokens"]
            totals[mode][1] += per[mode]["seconds"]
        per["same_text_full_and_lazy"] = texts["grammar_full"] == texts["grammar_lazy"]
        result["tasks"][name] = per
        log(name, json.dumps(per))

    rate = {m: totals[m][0] / totals[m][1] for m in modes}
    result["tokens_per_s"] = {m: r(rate[m], 1) for m in modes}
    result["ratio_full"] = r(rate["grammar_full"] / rate["unconstrained"], 3)
    result["ratio_lazy"] = r(rate["grammar_lazy"] / rate["unconstrained"], 3)
    result["lazy_resampled_share"] = r(resampled[0] / max(resampled[1], 1), 3)
    result["lazy_resamples_on_shortlist"] = r(resampled[2] / max(resampled[0], 1), 3)
    result["target_ratio"] = 0.8
    result["meets_target"] = result["ratio_lazy"] >= 0.8
    emit(result)


if __name__ == "__main__":
    main()
