"""A small corpus of guides in every supported format."""

from __future__ import annotations

from pathlib import Path

from tests.support.documents import make_docx, make_pdf

GOALS = "# Goals\n\n## Measurable\n\nA goal needs a number you can check by a date.\n"


FEEDBACK = "# Feedback\n\n## Impact\n\nSay what the behaviour caused for the team.\n"


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "goals.md").write_text(GOALS)
    (root / "feedback.md").write_text(FEEDBACK)
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "listening.txt").write_text("Listening\n\nReflect back what you heard before advising.\n")
    (root / "remote.html").write_text("<h1>Remote</h1><p>Agree on overlapping hours across time zones.</p>")
    (root / "policy.pdf").write_bytes(make_pdf([["Confidentiality policy", "Session notes stay private."]]))
    (root / "tools.docx").write_bytes(make_docx([("h1", "Tools"), ("p", "Video calls need a quiet room.")]))
    return root
