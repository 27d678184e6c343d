"""Local GGUF models in `<data dir>/models/`: download (`pull`), list, and choose the one in use.

A download streams into `<file>.part`: the first bytes must be a GGUF header (magic `GGUF`, a known
version) or the download stops and the part file is removed; the sha256 is computed while writing; the
file is renamed into place only once complete. An interrupted download keeps its part file, and the next
`pull` asks the server for the rest with a Range header (a server that ignores it sends the whole file
again, and the part file starts over). `models.json` records each pulled model (name, url, file, sha256,
size, when) and the choice made with `use`, which local mode takes when `COMPANION_LLM__MODEL_PATH` is not
set.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from companion.assistant.models_catalogue import CATALOGUE, CatalogueEntry, find
from companion.errors import BackendUnavailable, CompanionError, InvalidInput, NotFound
from companion.settings import LLMSettings

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (1, 2, 3)
HEADER_BYTES = 8
REGISTRY = "models.json"
PACKAGED = "smollm2-135m-instruct"
Progress = Callable[[int, int | None], None]


class PullFailed(CompanionError):
    """A download that could not finish (network, server, disk); its part file is kept for a resume."""

    status_code = 502
    code = "pull_failed"


@dataclass(frozen=True)
class PulledModel:
    name: str
    file: str
    url: str
    sha256: str
    size: int
    pulled_at: str
    verified: bool = False  # the sha256 matched the one the server published (Hugging Face: X-Linked-Etag)


@dataclass(frozen=True)
class ModelRow:
    """One line of `companion model list`."""

    name: str
    kind: str  # "pulled" | "packaged" | "catalogue" | "path"
    path: Path | None
    size: int | None
    in_use: bool
    note: str


def check_gguf_header(head: bytes, *, what: str) -> None:
    """Refuse anything that does not start like a GGUF file (an HTML error page, a safetensors file)."""
    if len(head) < HEADER_BYTES or head[:4] != GGUF_MAGIC:
        raise InvalidInput(
            f"{what} is not a GGUF file (it starts with {head[:8]!r}); pull a .gguf file, for example one "
            "of `companion model list`"
        )
    (version,) = struct.unpack("<I", head[4:8])
    if version not in GGUF_VERSIONS:
        raise InvalidInput(f"{what} is GGUF version {version}; this llama.cpp reads versions 1 to 3")


def _name_from_url(url: str) -> str:
    stem = Path(unquote(urlparse(url).path)).name
    stem = stem[: -len(".gguf")] if stem.lower().endswith(".gguf") else stem
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.") or "model"


def _file_from_url(url: str) -> str:
    name = Path(unquote(urlparse(url).path)).name
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise InvalidInput(f"cannot tell a file name from {url}; give a URL that ends in the .gguf file")
    return name


class ModelStore:
    def __init__(
        self, *, models_dir: Path, timeout_seconds: float = 30.0, chunk_bytes: int = 1 << 20
    ) -> None:
        self.dir = models_dir
        self.timeout_seconds = timeout_seconds
        self.chunk_bytes = chunk_bytes

    # ---- registry -------------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        path = self.dir / REGISTRY
        if not path.is_file():
            return {"in_use": None, "models": {}}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{path} is not readable JSON ({exc}); fix or remove it") from exc
        data.setdefault("in_use", None)
        data.setdefault("models", {})
        return dict(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f"{REGISTRY}.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.dir / REGISTRY)

    def pulled(self) -> list[PulledModel]:
        return [PulledModel(**entry) for entry in self._read()["models"].values()]

    def get(self, name: str) -> PulledModel | None:
        entry = self._read()["models"].get(name.strip().lower())
        return PulledModel(**entry) if entry else None

    def path_of(self, model: PulledModel) -> Path:
        return self.dir / model.file

    # ---- choosing the model in use ----------------------------------------------------------------------

    def chosen_path(self) -> Path | None:
        """The GGUF chosen with `use`, or None for the packaged model."""
        chosen = self._read()["in_use"]
        if not chosen:
            return None
        model = self.get(chosen)
        return self.path_of(model) if model else Path(chosen)

    def use(self, choice: str) -> Path | None:
        """Record the model local mode loads: a pulled model's name, the packaged one, or a GGUF path.
        Returns its path (None for the packaged model)."""
        data = self._read()
        wanted = choice.strip()
        if wanted.lower() in {PACKAGED, "packaged"}:
            data["in_use"] = None
            self._write(data)
            return None
        model = self.get(wanted)
        if model is not None:
            if not self.path_of(model).is_file():
                raise NotFound(f"{model.name} is recorded but {self.path_of(model)} is gone; pull it again")
            data["in_use"] = model.name
            self._write(data)
            return self.path_of(model)
        path = Path(wanted).expanduser()
        if path.is_file():
            with path.open("rb") as fh:
                check_gguf_header(fh.read(HEADER_BYTES), what=str(path))
            data["in_use"] = str(path.resolve())
            self._write(data)
            return path.resolve()
        if find(wanted):
            raise NotFound(
                f"{wanted} is in the catalogue but not pulled yet: run `companion model pull {wanted}`"
            )
        raise NotFound(
            f"no pulled model, catalogue entry or GGUF file called {wanted!r}; see `companion model list`"
        )

    def rows(self, *, settings_path: Path | None, packaged_path: Path | None) -> list[ModelRow]:
        """Pulled models, the packaged one, then catalogue entries not pulled, with the one in use marked.
        `settings_path` is COMPANION_LLM__MODEL_PATH when set: it wins over the choice made with `use`."""
        in_use = settings_path or self.chosen_path() or packaged_path
        rows: list[ModelRow] = []
        for model in self.pulled():
            path = self.path_of(model)
            note = f"sha256 {model.sha256[:12]}…" + ("" if path.is_file() else " (file missing)")
            rows.append(ModelRow(model.name, "pulled", path, model.size, path == in_use, note))
        packaged_size = packaged_path.stat().st_size if packaged_path and packaged_path.is_file() else None
        rows.append(
            ModelRow(PACKAGED, "packaged", packaged_path, packaged_size, packaged_path == in_use, "default")
        )
        if in_use is not None and all(row.path != in_use for row in rows):
            note = "COMPANION_LLM__MODEL_PATH" if settings_path else "chosen with `use`"
            rows.append(ModelRow(in_use.name, "path", in_use, None, True, note))
        pulled_names = {row.name for row in rows}
        for entry in CATALOGUE:
            if entry.name not in pulled_names:
                note = f"{entry.repo}, {entry.licence}"
                rows.append(ModelRow(entry.name, "catalogue", None, int(entry.approx_gb * 1e9), False, note))
        return rows

    # ---- pulling ------------------------------------------------------------------------------------------

    def resolve_source(self, source: str) -> tuple[str, str, str]:
        """(name, url, file) for a catalogue name or an http(s) URL."""
        entry: CatalogueEntry | None = find(source)
        if entry is not None:
            return entry.name, entry.url, entry.file
        if urlparse(source).scheme in {"http", "https"}:
            return _name_from_url(source), source, _file_from_url(source)
        names = ", ".join(e.name for e in CATALOGUE)
        raise InvalidInput(f"{source!r} is neither a catalogue model ({names}) nor an http(s) URL")

    def pull(self, source: str, *, name: str | None = None, progress: Progress | None = None) -> PulledModel:
        model_name, url, file = self.resolve_source(source)
        model_name = (name or model_name).strip().lower()
        self.dir.mkdir(parents=True, exist_ok=True)
        final, part = self.dir / file, self.dir / f"{file}.part"
        known = self.get(model_name)
        if known is not None and final.is_file() and final.stat().st_size == known.size:
            if progress:
                progress(known.size, known.size)
            return known
        try:
            size, digest, verified = self._download(url, part, progress)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise PullFailed(
                    f"no space to write {part} (disk full, or over a quota or file-size limit; "
                    f"{part.stat().st_size if part.exists() else 0} bytes kept): free some space and run "
                    "the same pull again to resume"
                ) from exc
            raise PullFailed(f"could not write {part}: {exc}") from exc
        os.replace(part, final)
        model = PulledModel(
            name=model_name,
            file=file,
            url=url,
            sha256=digest,
            verified=verified,
            size=size,
            pulled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        data = self._read()
        data["models"][model_name] = asdict(model)
        self._write(data)
        return model

    def _download(self, url: str, part: Path, progress: Progress | None) -> tuple[int, str, bool]:
        meta = part.with_name(f"{part.name}.json")  # where the part came from, and its version
        known = _read_json(meta) if part.exists() else {}
        if part.exists() and known.get("url") != url:  # part of some other download: start over
            part.unlink()
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        if offset and known.get("validator"):
            headers["If-Range"] = str(known["validator"])  # a changed file comes whole (200), not spliced
        timeout = httpx.Timeout(self.timeout_seconds, connect=min(self.timeout_seconds, 10.0))
        written = offset
        try:
            with httpx.Client(follow_redirects=True, timeout=timeout) as client:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code == 416 and offset:  # the part file is no prefix of this file
                        part.unlink()
                        meta.unlink(missing_ok=True)
                        return self._download(url, part, progress)
                    if response.status_code not in (200, 206):
                        raise PullFailed(f"{url} answered HTTP {response.status_code}; check the name or URL")
                    if response.status_code == 206 and not _starts_at(response, offset):
                        raise PullFailed(f"{url} sent a range that does not start at byte {offset}")
                    resuming = response.status_code == 206 and offset > 0
                    length = response.headers.get("content-length")
                    total = (offset if resuming else 0) + int(length) if length and length.isdigit() else None
                    hasher = hashlib.sha256()
                    head = b""
                    if resuming:
                        with part.open("rb") as fh:
                            head = fh.read(HEADER_BYTES)
                            hasher.update(head)
                            for block in iter(lambda: fh.read(self.chunk_bytes), b""):
                                hasher.update(block)
                    else:
                        written = 0
                        validator = response.headers.get("etag") or response.headers.get("last-modified")
                        known = {"url": url, "validator": validator, "sha256": _published_sha256(response)}
                        meta.write_text(json.dumps(known))
                    with part.open("ab" if resuming else "wb") as out:
                        for chunk in response.iter_bytes():  # as it arrives: nothing held back on a cut
                            if len(head) < HEADER_BYTES:
                                head += chunk[: HEADER_BYTES - len(head)]
                                if len(head) >= HEADER_BYTES:
                                    self._check_or_discard(head, url, part)
                            out.write(chunk)
                            hasher.update(chunk)
                            written += len(chunk)
                            if progress:
                                progress(written, total)
                        out.flush()
                        os.fsync(out.fileno())
                    self._check_or_discard(head, url, part)
                    if total is not None and written != total:
                        raise httpx.RemoteProtocolError(f"got {written} of {total} bytes")
                    digest = hasher.hexdigest()
                    meta.unlink(missing_ok=True)
                    expected = known.get("sha256") or _published_sha256(response)
                    if expected and expected != digest:
                        part.unlink(missing_ok=True)
                        raise PullFailed(
                            f"the download's sha256 {digest} is not the {expected} that {url} publishes; "
                            "the file was removed: run the pull again"
                        )
                    return written, digest, bool(expected)
        except httpx.HTTPError as exc:
            kept = part.stat().st_size if part.exists() else 0
            if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.InvalidURL):
                raise BackendUnavailable(f"cannot reach {url}: {exc}") from exc
            raise PullFailed(
                f"download of {url} interrupted ({type(exc).__name__}: {exc}); {kept} bytes kept in "
                f"{part.name}: run the same pull again to resume"
            ) from exc

    @staticmethod
    def _check_or_discard(head: bytes, url: str, part: Path) -> None:
        try:
            check_gguf_header(head, what=url)
        except InvalidInput:
            part.unlink(missing_ok=True)
            part.with_name(f"{part.name}.json").unlink(missing_ok=True)
            raise


def _published_sha256(response: httpx.Response) -> str | None:
    """The sha256 a server publishes for the file: Hugging Face sends it as `X-Linked-Etag` on the
    redirect from /resolve/ (and on the file) for files kept in Git LFS."""
    for hop in (*response.history, response):
        tag = hop.headers.get("x-linked-etag", "").strip().strip('"').removeprefix("W/").strip('"').lower()
        if re.fullmatch(r"[0-9a-f]{64}", tag):
            return tag
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _starts_at(response: httpx.Response, offset: int) -> bool:
    match = re.match(r"bytes (\d+)-", response.headers.get("content-range", ""))
    return match is not None and int(match.group(1)) == offset


def with_chosen_model(llm: LLMSettings, *, models_dir: Path) -> LLMSettings:
    """The LLM settings with `model_path` filled from the choice made with `companion model use`, unless it
    is set explicitly (settings or COMPANION_LLM__MODEL_PATH win)."""
    if llm.model_path is not None or llm.mode != "local":
        return llm
    chosen = ModelStore(models_dir=models_dir).chosen_path()
    return llm if chosen is None else llm.model_copy(update={"model_path": chosen})
