"""Build step on top of pyproject.toml: the wheel carries the top-level runtime assets.

`prompts/`, `evals/` and `knowledge/` stay at the top of the repository; `build_py` copies them into the
built package as `companion/_assets/<name>/`, where `companion/assets.py` finds them in an installed
Companion. An editable install needs no copy: `assets.py` falls back to the checkout's folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSETS = ("prompts", "evals", "knowledge")


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "companion" / "_assets"
        for name in ASSETS:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"cannot build Companion: the asset folder {source} is missing")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithAssets})
