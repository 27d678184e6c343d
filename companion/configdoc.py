"""The configuration reference (`docs/configuration.md`), generated from the settings' own field
descriptions so the page cannot drift from the code: `python -m companion.configdoc > docs/configuration.md`.
A test compares the page with this output."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from companion.settings import Settings

HEADER = """# Configuration

Every setting is an environment variable with the prefix `COMPANION_`; nested settings join their names
with `__` (for example `COMPANION_STORE__MODE=server`). A bad value stops the command with a message naming
the variable. Secrets have no defaults. This page is generated from the settings' descriptions
(`python -m companion.configdoc > docs/configuration.md`); a test fails when the two differ.
"""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, Path):
        # packaged or repository folders differ per machine: show the folder's own name
        return f"`{value.name}/` (packaged)" if value.is_absolute() else f"`{value}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, list | tuple | dict) and not value:
        return "empty"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{env}__"))
            continue
        description = " ".join((field.description or "").split())
        rows.append((env, _default(field), description.replace("|", "\\|")))
    return rows


def render() -> str:
    sections: dict[str, list[tuple[str, str, str]]] = {}
    for env, default, description in _rows(Settings, "COMPANION_"):
        group = env.split("__")[0] if "__" in env else "COMPANION_"
        sections.setdefault(group, []).append((env, default, description))
    out = [HEADER]
    for group, rows in sections.items():
        title = "General" if group == "COMPANION_" else group.removeprefix("COMPANION_").lower()
        described = Settings.model_fields.get(title, None) if title != "General" else None
        out.append(f"## {title}\n")
        if described is not None and described.description:
            out.append(described.description + "\n")
        out.append("| variable | default | meaning |\n| --- | --- | --- |")
        out.extend(f"| `{env}` | {default} | {description} |" for env, default, description in rows)
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
