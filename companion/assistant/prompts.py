"""Prompt templates: one Jinja2 file per task in `prompts/`, rendered with StrictUndefined.

The folder is the `prompts_dir` setting (default: the prompts shipped with Companion, see `assets.py`); a
template missing from it is an `AssetMissing` error naming the file and the setting.

Each template defines a `system` block and a `user` block. Its header comment names its inputs;
`variables()` reads them from the template itself, and `version()` hashes the file, so eval runs can
record exactly which prompt produced an output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    UndefinedError,
    meta,
)

from companion.assets import asset_dir, require_file
from companion.assistant.llm import Message
from companion.errors import CompanionError

PROMPTS_DIR = asset_dir("prompts")
SETTING = "COMPANION_PROMPTS_DIR"
FENCE_CLOSE = "</guide_excerpts>"


class PromptError(CompanionError):
    code = "prompt_error"


def fence_safe(text: str) -> str:
    """Guide text goes inside a fence, and user text after it: neither may close or open the fence."""
    return text.replace(FENCE_CLOSE, "</guide-excerpts>").replace("<guide_excerpts>", "<guide-excerpts>")


class PromptLibrary:
    def __init__(self, directory: Path = PROMPTS_DIR) -> None:
        self.directory = directory
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["fence_safe"] = fence_safe

    def path(self, name: str) -> Path:
        """The template file of prompt `name`; `AssetMissing` when it is not there."""
        return require_file(self.directory / f"{name}.j2", what=f"prompt template {name!r}", setting=SETTING)

    def _template(self, name: str) -> Template:
        self.path(name)
        return self.env.get_template(f"{name}.j2")

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.j2") if not p.name.startswith("_"))

    def variables(self, name: str) -> set[str]:
        """The inputs a template needs, including those of the templates it includes."""
        ast = self.env.parse(self.path(name).read_text())
        found = set(meta.find_undeclared_variables(ast))
        for included in meta.find_referenced_templates(ast):
            if included:
                found |= self.variables(included.removesuffix(".j2"))
        return found

    def version(self, name: str) -> str:
        return hashlib.sha256(self.path(name).read_bytes()).hexdigest()[:16]

    def system_text(self, name: str) -> str:
        """A template's system block on its own (system blocks take no inputs): what a reply must never
        quote back."""
        template = self._template(name)
        render_block = template.blocks.get("system")
        if render_block is None:
            raise PromptError(f"prompt {name!r} has no 'system' block")
        try:
            return "".join(render_block(template.new_context({}))).strip()
        except UndefinedError as exc:
            raise PromptError(f"prompt {name!r}: the system block needs {exc.message}") from exc

    def render(self, name: str, **variables: Any) -> list[Message]:
        missing = self.variables(name) - variables.keys()
        if missing:
            raise PromptError(f"prompt {name!r} needs {', '.join(sorted(missing))}")
        template = self._template(name)
        context = template.new_context(variables)
        messages = []
        try:
            for role, block in (("system", "system"), ("user", "user")):
                render_block = template.blocks.get(block)
                if render_block is None:
                    raise PromptError(f"prompt {name!r} has no {block!r} block")
                text = "".join(render_block(context)).strip()
                messages.append(Message(role, text))
        except UndefinedError as exc:
            raise PromptError(f"prompt {name!r}: {exc.message}") from exc
        return messages
