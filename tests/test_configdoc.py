"""docs/configuration.md is generated from the settings and must not drift from them."""

from __future__ import annotations

from pydantic import BaseModel

from companion import configdoc
from companion.settings import Settings
from tests.support.app import REPO


def test_the_configuration_page_is_the_generated_one() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    assert page == configdoc.render(), (
        "docs/configuration.md is out of date: run `python -m companion.configdoc > docs/configuration.md`"
    )


def test_every_setting_has_a_description() -> None:
    missing: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if not (field.description or "").strip():
                missing.append(prefix + name)
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation, f"{prefix}{name}.")

    walk(Settings, "")
    assert missing == []


def test_every_variable_of_the_settings_is_on_the_page() -> None:
    page = configdoc.render()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            variable = f"{prefix}{name.upper()}"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation, f"{variable}__")
            else:
                assert f"`{variable}`" in page

    walk(Settings, "COMPANION_")
