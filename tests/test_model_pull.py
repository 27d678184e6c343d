"""`companion model pull|list|use` against a loopback HTTP server serving the packaged SmolLM2 GGUF: nothing
leaves the machine. Also: the lazy grammar sampler constrains replies exactly as the full one does."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.assistant.llm import LocalChatModel, Message, packaged_gguf_path
from companion.assistant.models_catalogue import CATALOGUE
from companion.assistant.pull import ModelStore, PullFailed
from companion.cli.main import app
from companion.container import Services
from companion.errors import InvalidInput, NotFound
from tests.support.app import REPO, make_settings
from tests.support.file_server import FileServer, serving

FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
runner = CliRunner()


@pytest.fixture(scope="module")
def gguf() -> tuple[bytes, str]:
    data = packaged_gguf_path().read_bytes()
    return data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(gguf: tuple[bytes, str]) -> Iterator[FileServer]:
    with serving(FileServer(gguf[0])) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(models_dir=tmp_path / "data" / "models")


def test_pull_writes_the_file_and_records_its_sha256(
    store: ModelStore, server: FileServer, gguf: tuple[bytes, str]
) -> None:
    seen: list[tuple[int, int | None]] = []
    model = store.pull(server.url(FILE), progress=lambda done, total: seen.append((done, total)))
    path = store.dir / FILE
    assert model.sha256 == gguf[1] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert model.size == len(gguf[0]) and model.name == "smollm2-135m-instruct.q4_1"
    assert not model.verified  # this server publishes no sha256
    assert not (store.dir / f"{FILE}.part").exists()
    recorded = json.loads((store.dir / "models.json").read_text())["models"][model.name]
    assert recorded["url"] == server.url(FILE) and recorded["sha256"] == gguf[1]
    assert seen[-1] == (len(gguf[0]), len(gguf[0]))
    assert server.bytes_sent == len(gguf[0]) and server.ranges_asked == [None]
    # pulling it again finds it in place and downloads nothing
    assert store.pull(server.url(FILE)) == model
    assert server.bytes_sent == len(gguf[0])


def test_a_cut_download_resumes_and_fetches_only_the_rest(
    store: ModelStore, server: FileServer, gguf: tuple[bytes, str]
) -> None:
    half = len(gguf[0]) // 2
    server.cut_after = half
    with pytest.raises(PullFailed, match="run the same pull again to resume"):
        store.pull(server.url(FILE))
    part = store.dir / f"{FILE}.part"
    assert part.stat().st_size == half
    assert not (store.dir / FILE).exists() and store.pulled() == []

    model = store.pull(server.url(FILE))
    assert model.sha256 == gguf[1] and model.size == len(gguf[0])
    assert server.ranges_asked == [None, f"bytes={half}-"]
    assert server.bytes_sent == len(gguf[0])  # half, then the other half: nothing twice
    assert not part.exists()


def test_a_server_without_range_support_restarts_cleanly(store: ModelStore, gguf: tuple[bytes, str]) -> None:
    with serving(FileServer(gguf[0], ranges=False, cut_after=3_000_000)) as plain:
        with pytest.raises(PullFailed):
            store.pull(plain.url(FILE))
        model = store.pull(plain.url(FILE))
    assert plain.ranges_asked == [None, "bytes=3000000-"]  # asked, got the whole file (200) instead
    assert model.sha256 == gguf[1]
    assert (store.dir / FILE).stat().st_size == len(gguf[0])


def test_a_published_sha256_is_checked(store: ModelStore, gguf: tuple[bytes, str]) -> None:
    data = gguf[0][:3_000_000]
    right = hashlib.sha256(data).hexdigest()
    with serving(FileServer(data, linked_etag=right, cut_after=1_000_000)) as honest:
        with pytest.raises(PullFailed):
            store.pull(honest.url(FILE))
        model = store.pull(honest.url(FILE))  # resumed: the sha256 covers both parts
    assert model.verified and model.sha256 == right
    wrong = "0" * 64
    with serving(FileServer(data, linked_etag=wrong)) as lying:
        with pytest.raises(PullFailed, match="is not the 0000"):
            store.pull(lying.url("other.gguf"))
    assert not (store.dir / "other.gguf").exists() and not (store.dir / "other.gguf.part").exists()
    assert store.get("other") is None


def test_a_file_changed_between_attempts_is_fetched_whole_not_spliced(
    store: ModelStore, gguf: tuple[bytes, str]
) -> None:
    old = gguf[0][:4_000_000]
    new = old[:1000] + bytes(b ^ 0xFF for b in old[1000:2000]) + old[2000:]
    with serving(FileServer(old, etag='"v1"', cut_after=1_000_000)) as changing:
        with pytest.raises(PullFailed):
            store.pull(changing.url(FILE))
        changing.data, changing.etag = new, '"v2"'
        model = store.pull(changing.url(FILE))
    assert changing.ranges_asked == [None, "bytes=1000000-"]
    assert model.sha256 == hashlib.sha256(new).hexdigest()
    assert (store.dir / FILE).read_bytes() == new


def test_a_part_file_left_by_another_url_is_not_resumed(
    store: ModelStore, server: FileServer, gguf: tuple[bytes, str]
) -> None:
    with serving(FileServer(gguf[0][:3_000_000], cut_after=1_000_000)) as other:
        with pytest.raises(PullFailed):
            store.pull(other.url(FILE))
    assert (store.dir / f"{FILE}.part").stat().st_size == 1_000_000
    model = store.pull(server.url(FILE))
    assert server.ranges_asked == [None] and model.sha256 == gguf[1]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"<!DOCTYPE html><html>not found</html>", "not a GGUF file"),
        (b"GGUF" + struct.pack("<I", 99), "GGUF version 99"),
        (b"GGU", "not a GGUF file"),
    ],
)
def test_a_file_that_is_not_gguf_is_refused_and_not_kept(
    store: ModelStore, gguf: tuple[bytes, str], head: bytes, message: str
) -> None:
    corrupt = head + gguf[0][len(head) : 2_000_000] if len(head) > 4 else head
    with serving(FileServer(corrupt)) as bad:
        with pytest.raises(InvalidInput, match=message):
            store.pull(bad.url("broken.gguf"))
    assert list(store.dir.iterdir()) == []  # no part file, no registry


def test_http_errors_and_bad_sources_are_clear(store: ModelStore, gguf: tuple[bytes, str]) -> None:
    with serving(FileServer(gguf[0], status=404)) as missing:
        with pytest.raises(PullFailed, match="HTTP 404"):
            store.pull(missing.url(FILE))
    with pytest.raises(InvalidInput, match="neither a catalogue model"):
        store.pull("no-such-model")
    with pytest.raises(InvalidInput, match="file name"):
        store.pull("http://127.0.0.1:9/")
    assert not (store.dir / f"{FILE}.part").exists()


def test_catalogue_urls_point_at_gguf_files_on_hugging_face() -> None:
    assert 3 <= len(CATALOGUE) <= 6
    for entry in CATALOGUE:
        assert entry.url == f"https://huggingface.co/{entry.repo}/resolve/main/{entry.file}"
        assert entry.file.lower().endswith(".gguf") and entry.licence


def test_use_makes_local_mode_load_the_pulled_file(tmp_path: Path, server: FileServer) -> None:
    settings = make_settings(tmp_path, llm={"mode": "local"})
    services = Services(settings)
    model = services.models.pull(server.url(FILE), name="tiny")
    path = services.models.use("tiny")
    assert path == settings.models_dir / FILE

    llm = Services(settings).llm
    assert isinstance(llm, LocalChatModel) and llm.path == path

    # an explicit model path still wins over the recorded choice
    explicit = make_settings(tmp_path, llm={"mode": "local", "model_path": str(tmp_path / "other.gguf")})
    chosen = Services(explicit).llm
    assert isinstance(chosen, LocalChatModel) and chosen.path == tmp_path / "other.gguf"

    assert services.models.use("packaged") is None
    back = Services(settings).llm
    assert isinstance(back, LocalChatModel) and back.path == packaged_gguf_path()

    with pytest.raises(NotFound, match="not pulled yet"):
        services.models.use(CATALOGUE[0].name)
    with pytest.raises(NotFound, match="no pulled model"):
        services.models.use("nothing-like-this")
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(InvalidInput, match="not a GGUF file"):
        services.models.use(str(not_gguf))
    assert services.models.get("tiny") == model


def test_cli_pull_list_use(tmp_path: Path, server: FileServer) -> None:
    env = {"COMPANION_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    pulled = runner.invoke(app, ["model", "pull", server.url(FILE), "--name", "tiny", "--use"], env=env)
    assert pulled.exit_code == 0, pulled.output
    assert "pulled tiny" in pulled.stdout and "now uses tiny" in pulled.stdout

    listed = runner.invoke(app, ["model", "list", "--json"], env=env)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["tiny"]["in_use"] and rows["tiny"]["kind"] == "pulled"
    assert not rows["smollm2-135m-instruct"]["in_use"]
    assert {e.name for e in CATALOGUE} <= set(rows)

    used = runner.invoke(app, ["model", "use", "packaged"], env=env)
    assert used.exit_code == 0
    listed = runner.invoke(app, ["model", "list", "--json"], env=env)
    assert {row["name"]: row for row in json.loads(listed.stdout)}["smollm2-135m-instruct"]["in_use"]


def test_cli_refuses_a_non_gguf_download_without_a_traceback(tmp_path: Path) -> None:
    env = {"COMPANION_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    with serving(FileServer(b"<html>" + b"x" * 5000)) as bad:
        result = runner.invoke(app, ["model", "pull", bad.url("model.gguf")], env=env)
    assert result.exit_code == 1
    assert "not a GGUF file" in result.stderr and "Traceback" not in result.output


def test_running_out_of_space_is_a_clear_error_and_keeps_the_part(tmp_path: Path, server: FileServer) -> None:
    """`pull` in a subprocess allowed to write files of at most 5 MB (RLIMIT_FSIZE): the write that
    crosses it fails as a full disk would."""
    limit = 5_000_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "COMPANION_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "companion", "model", "pull", server.url(FILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_files,
    )
    assert done.returncode == 1, done.stderr
    assert "no space to write" in done.stderr and "Traceback" not in done.stderr
    part = tmp_path / "data" / "models" / f"{FILE}.part"
    assert 0 < part.stat().st_size <= limit
    assert not (tmp_path / "data" / "models" / FILE).exists()


@pytest.mark.real_model
def test_the_pulled_model_loads_and_answers_in_json(tmp_path: Path, server: FileServer) -> None:
    settings = make_settings(tmp_path, llm={"mode": "local", "threads": 1, "max_tokens": 48})
    services = Services(settings)
    services.models.pull(server.url(FILE), name="tiny")
    services.models.use("tiny")
    llm = Services(settings).llm
    assert isinstance(llm, LocalChatModel) and llm.path == settings.models_dir / FILE

    from pydantic import BaseModel, Field

    class Reply(BaseModel):
        answer: str = Field(max_length=60)

    reply = llm.structured([Message("user", "Say hello to a new mentee, in JSON.")], Reply)
    assert reply.data is not None  # the grammar makes the reply JSON, whatever the model writes
    Reply.model_validate(reply.data)


@pytest.mark.real_model
def test_lazy_grammar_sampling_matches_full_masking_when_greedy(tmp_path: Path) -> None:
    """At temperature 0 the token picked first is the best one the grammar allows, so checking it first
    must give exactly the text that masking the whole vocabulary gives."""
    from companion.assistant.models import DraftFeedback

    messages = [
        Message("system", "Reply with one JSON object."),
        Message("user", "Rewrite this feedback kindly: 'your report was bad'."),
    ]
    replies = {}
    for mode in ("full", "lazy"):
        settings = make_settings(
            tmp_path,
            llm={"mode": "local", "threads": 1, "temperature": 0, "max_tokens": 60, "grammar_sampling": mode},
        )
        replies[mode] = Services(settings).llm.structured(messages, DraftFeedback).raw
    assert replies["lazy"] == replies["full"]
    assert replies["lazy"].lstrip().startswith("{")
