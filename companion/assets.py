"""Where the runtime assets are: the prompt templates, the eval suites and the sample handbook.

In the repository they are the top-level folders `prompts/`, `evals/` and `knowledge/`. A built wheel
ships copies of them inside the package, as `companion/_assets/<name>/` (see `setup.py`), so an installed
Companion finds them without the repository. Settings (`prompts_dir`, `evals.dir`,
`sample_knowledge_dir`) default to the folder found here and can point anywhere else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from companion.errors import AssetMissing

NAMES = ("prompts", "evals", "knowledge")
PACKAGED = "_assets"


def asset_dir(name: str) -> Path:
    """The folder of one asset: the wheel's packaged copy, else the source checkout's top-level folder.

    When neither exists, the packaged location is returned (settings take it as their default, and the
    first use of a file in it raises `AssetMissing` naming that path)."""
    if name not in NAMES:
        raise ValueError(f"unknown asset {name!r}; one of {', '.join(NAMES)}")
    package = Path(str(resources.files("companion")))
    packaged = package / PACKAGED / name
    if packaged.is_dir():
        return packaged
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    return packaged


def require_file(path: Path, *, what: str, setting: str) -> Path:
    """`path` when it is a file; otherwise `AssetMissing` naming the path and the setting that chose its
    folder."""
    if not path.is_file():
        raise AssetMissing(
            f"{what} is missing: there is no file {path}. Its folder is set by {setting}: point that at a "
            "folder that has the file, or unset it to use the one installed with Companion"
        )
    return path
