"""Wheel smoke: build the wheel, install it into a fresh venv outside the checkout, and use it from a
temporary directory, as a user (or the Dockerfile) would.

    python .ci/wheel_smoke.py [--wheel dist/companion-*.whl] [--workdir DIR] [--keep]

Checks, in order (the first failure stops the run with a message saying what is wrong):
1. the wheel holds every file of `prompts/`, `evals/` and `knowledge/` (as `companion/_assets/...`),
   the page templates, static files and migrations;
2. the venv imports Companion from its own site-packages and finds the packaged assets there;
3. `companion --help`;
4. `companion serve` on the fake LLM and fake embeddings in a temp data dir: the sample guides are
   ingested, `/readyz` answers 200, `POST /v1/goals/draft` with the printed admin token answers 200 with
   cited goals;
5. `companion eval run --limit 1` on the same fake backends.

Run it with the checkout's Python (it builds the wheel with that Python's pip and uses the server
launcher of `tests/support/server.py`); the installed Companion runs without PYTHONPATH and without
inherited COMPANION_* settings, so nothing of the checkout leaks in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.server, the one `companion serve` launcher

from tests.support.server import Serve, ServerFailed  # noqa: E402

ASSETS = ("prompts", "evals", "knowledge")
PACKAGE_DATA = ("companion/web/templates", "companion/web/static", "companion/storage/migrations")
LEAKING = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


class SmokeFailed(Exception):
    pass


def step(text: str) -> None:
    print(f"wheel smoke: {text}", flush=True)


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SmokeFailed(f"`{' '.join(command)}` did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise SmokeFailed(f"cannot run `{' '.join(command)}`: {exc}") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SmokeFailed(f"`{' '.join(command)}` exited with {done.returncode}:\n{output[-4000:]}")
    if "Traceback (most recent call last)" in output:
        raise SmokeFailed(f"`{' '.join(command)}` printed a traceback:\n{output[-4000:]}")
    shown = " ".join([Path(command[0]).name, *command[1:]])
    step(f"ok ({time.monotonic() - started:.1f} s): {shown[:100]}")
    return output


def source_copy(dest: Path) -> Path:
    """The checkout's files as git sees them (tracked, plus new files not ignored): what a clean clone
    has, without build leftovers (a stale `build/` would slip old modules into the wheel)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SmokeFailed(f"cannot list the checkout's files with git: {exc}") from exc
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build_wheel(dest: Path) -> Path:
    src = source_copy(dest.parent / "src")
    step(f"building the wheel from a copy of {ROOT}'s files")
    dest.mkdir(parents=True, exist_ok=True)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest), str(src)],
        cwd=dest,
        env=dict(os.environ),
    )
    wheels = sorted(dest.glob("companion-*.whl"))
    if len(wheels) != 1:
        raise SmokeFailed(f"expected one companion wheel in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]


def check_contents(wheel: Path, source: Path) -> None:
    """Every runtime file of `source` (the tree the wheel was built from) is in the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = []
    for asset in ASSETS:
        folder = source / asset
        files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        if not files:
            raise SmokeFailed(f"the checkout's {folder} is empty or missing")
        missing += [
            f"companion/_assets/{asset}/{p.relative_to(folder).as_posix()}"
            for p in files
            if f"companion/_assets/{asset}/{p.relative_to(folder).as_posix()}" not in names
        ]
    for prefix in PACKAGE_DATA:
        missing += [
            p.relative_to(source).as_posix()
            for p in (source / prefix).rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and p.suffix != ".pyc"
            and p.relative_to(source).as_posix() not in names
        ]
    if missing:
        listed = "\n  ".join(missing[:30])
        raise SmokeFailed(
            f"{wheel.name} lacks {len(missing)} runtime file(s) (see setup.py and the package-data of "
            f"pyproject.toml):\n  {listed}"
        )
    step(f"{wheel.name} holds every asset, template, static file and migration")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKING and not k.startswith("COMPANION_")}
    env.update(ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1", COLUMNS="200", **extra)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="test this wheel instead of building one")
    parser.add_argument("--workdir", type=Path, help="where the venv and the data go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir afterwards")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="companion-wheel-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    if ROOT in [work, *work.resolve().parents]:
        print(f"wheel smoke: FAILED: the work dir {work} must be outside the checkout", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        wheel = args.wheel.resolve() if args.wheel else build_wheel(work / "dist")
        check_contents(wheel, ROOT if args.wheel else work / "src")
        smoke(wheel, work)
    except (SmokeFailed, ServerFailed) as exc:
        print(f"wheel smoke: FAILED: {exc}", file=sys.stderr)
        print(f"wheel smoke: the work dir is kept for a look: {work}", file=sys.stderr)
        return 1
    step(f"passed in {time.monotonic() - started:.0f} s")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def smoke(wheel: Path, work: Path) -> None:
    venv = work / "venv"
    here = work / "elsewhere"  # the directory the commands run from: no checkout, no assets
    here.mkdir(exist_ok=True)
    env = clean_env()
    step(f"installing {wheel.name} into a fresh venv {venv}")
    run([sys.executable, "-m", "venv", "--clear", str(venv)], cwd=here, env=env)
    python, companion = venv / "bin" / "python", venv / "bin" / "companion"
    run(
        [str(python), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
        cwd=here,
        env=env,
        timeout=1800,
    )

    where = run(
        [
            str(python),
            "-c",
            "import companion, companion.assets as a; print(companion.__file__); "
            "print('\\n'.join(str(a.asset_dir(n)) for n in a.NAMES))",
        ],
        cwd=here,
        env=env,
    ).split()
    site = venv.resolve()
    outside = [p for p in where if site not in Path(p).resolve().parents]
    if outside:
        raise SmokeFailed(f"the installed Companion uses files outside its venv: {outside}")
    step("the venv imports Companion and its assets from its own site-packages")

    if "serve" not in run([str(companion), "--help"], cwd=here, env=env):
        raise SmokeFailed("`companion --help` does not list the serve command")

    data = work / "data"
    fake = {
        "COMPANION_DATA_DIR": str(data),
        "COMPANION_LLM__MODE": "fake",
        "COMPANION_EMBEDDINGS__MODE": "fake",
    }
    with Serve(
        command=[str(companion)],
        env=clean_env(**fake),
        inherit_env=False,
        cwd=here,
        log=work / "serve.log",
        ready_timeout=300,
    ) as server:
        step(f"`companion serve` ready on {server.base_url} after {server.ready_seconds:.1f} s")
        token = server.token
        if not token:
            raise SmokeFailed(f"serve printed no admin API token on first start:\n{server.output()[-3000:]}")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60, trust_env=False) as client:
            documents = client.get("/v1/knowledge/documents")
            expected = {p.name for p in (ROOT / "knowledge").glob("*.md")}
            indexed = {d["source"] for d in documents.json()} if documents.status_code == 200 else set()
            if indexed != expected:
                raise SmokeFailed(
                    f"serve did not ingest the packaged sample guides: indexed {sorted(indexed)}, expected "
                    f"{sorted(expected)}; its output:\n{server.output()[-3000:]}"
                )
            draft = client.post("/v1/goals/draft", json={"aspiration": "present to leadership"})
            if draft.status_code != 200:
                raise SmokeFailed(f"POST /v1/goals/draft answered {draft.status_code}: {draft.text[:2000]}")
            goals = draft.json().get("goals") or []
            if not goals or not all(g.get("citations") for g in goals):
                raise SmokeFailed(f"POST /v1/goals/draft gave no cited goals: {draft.text[:2000]}")
        step(f"sample guides indexed ({len(indexed)}); /v1/goals/draft 200 with {len(goals)} cited goals")
    if "Traceback (most recent call last)" in server.output():
        raise SmokeFailed(f"serve logged a traceback:\n{server.output()[-4000:]}")

    report = run([str(companion), "eval", "run", "--limit", "1"], cwd=here, env=clean_env(**fake))
    if "score" not in report:
        raise SmokeFailed(f"`companion eval run --limit 1` printed no score:\n{report[-3000:]}")


if __name__ == "__main__":
    raise SystemExit(main())
