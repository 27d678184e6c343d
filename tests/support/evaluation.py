"""Services for eval runs on the fake model and small guides."""

from __future__ import annotations

import json
from pathlib import Path

from companion.container import Services
from tests.support.assistant import build as build_assistant

GUIDES = {
    "giving-feedback.md": "# Feedback\n\n## Situation behaviour impact\n\nDescribe the situation, "
    "the behaviour and its impact, then agree a next step. Avoid always and never.\n",
    "smart-goals.md": "# Goals\n\n## SMART goals\n\nA SMART goal is specific and measurable, with a number "
    "and a target date.\n",
}


CASE = {
    "id": "fb-1",
    "task": "feedback",
    "inputs": {"draft": "You are lazy and never finish your tickets.", "context": ""},
    "expect": {"sources": ["giving-feedback.md"], "required": [], "forbidden": ["lazy"]},
}


def build(tmp_path: Path, replies: list[object]) -> Services:
    evals = tmp_path / "evals"
    evals.mkdir(exist_ok=True)
    (evals / "feedback.jsonl").write_text(json.dumps(CASE) + "\n")
    return build_assistant(tmp_path, replies, guides=GUIDES, extra={"evals": {"dir": str(evals)}})
