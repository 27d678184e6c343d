"""The assistant on the scripted fake model, with three small guides ingested."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from companion.assistant.llm import FakeChatModel
from companion.container import Services
from companion.identity.auth import Principal, Role
from tests.support.app import make_settings

GUIDES = {
    "goals.md": "# Goals\n\n## SMART goals\n\nA SMART goal is specific, measurable, achievable, relevant and "
    "time-bound. Count progress with a number and pick a target date.\n",
    "sessions.md": "# Sessions\n\n## Agenda\n\nTime-box the session agenda: check-in, review actions, goals, "
    "options, commitments. Use the GROW model.\n",
    "feedback.md": "# Feedback\n\n## Situation behaviour impact\n\nDescribe the situation, the behaviour "
    "and its impact, then agree a next step. Avoid always and never.\n",
}


ADMIN = Principal(1, "admin", Role.admin)


def build(
    tmp_path: Path,
    replies: list[object],
    *,
    guides: dict[str, str] = GUIDES,
    extra: dict[str, object] | None = None,
    **llm: object,
) -> Services:
    """Services on the scripted fake model with `guides` ingested; `extra` adds other settings."""
    texts = [r if isinstance(r, str) else json.dumps(r) for r in replies]
    others = dict(extra or {})
    assistant = {"min_similarity": 0.05, **others.pop("assistant", {})}  # type: ignore[dict-item]
    settings = make_settings(
        tmp_path,
        llm={"mode": "fake", "fake_replies": texts, **llm},
        assistant=assistant,
        **others,
    )
    services = Services(settings)
    services.db.create_tables()
    root = tmp_path / "kb"
    root.mkdir(exist_ok=True)
    for name, body in guides.items():
        (root / name).write_text(body)
    services.knowledge.ingest_paths([root])
    return services


def good_goals(n: int = 2) -> dict[str, object]:
    return {
        "goals": [
            {
                "statement": f"Give {i + 2} short presentations on public speaking topics to my team",
                "measure": f"{i + 2} presentations delivered with written feedback",
                "target_date": (date.today() + timedelta(weeks=8)).isoformat(),
                "first_steps": ["Pick the first presentation topic", "Book a slot in the team meeting"],
                "sources": [1],
            }
            for i in range(n)
        ]
    }


def fake(services: Services) -> FakeChatModel:
    assert isinstance(services.llm, FakeChatModel)
    return services.llm


def agenda(minutes: list[int]) -> dict[str, object]:
    return {
        "items": [
            {"title": f"Item {i}", "minutes": m, "purpose": f"Discuss part {i} of the plan", "sources": [2]}
            for i, m in enumerate(minutes)
        ],
        "questions": ["What blocked me this week?", "How do I measure progress?"],
    }
