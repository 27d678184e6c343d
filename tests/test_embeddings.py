"""Query vectors: the cache of recent queries, and the packaged model in ONNX Runtime (same vectors as
sentence-transformers, exported once, no torch in the serving process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from companion.errors import BackendUnavailable
from companion.knowledge.embeddings import FakeEmbedder
from companion.knowledge.onnx_model import exported_model
from tests.support.app import REPO


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(32)
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        self.calls.append(list(texts))
        return super().encode(texts, batch_size=batch_size)


def test_recent_query_vectors_are_cached() -> None:
    embedder = CountingEmbedder()
    embedder.cache_size = 2
    first = embedder.embed_vector("smart goals")
    assert np.array_equal(embedder.embed_vector("smart goals"), first)
    assert embedder.calls == [["smart goals"]]
    with pytest.raises(ValueError):
        first[0] = 1.0  # shared between callers: read-only
    embedder.embed_vector("feedback")
    embedder.embed_vector("smart goals")  # most recent again
    embedder.embed_vector("agenda")  # evicts "feedback", the least recent
    embedder.embed_vector("smart goals")
    embedder.embed_vector("feedback")
    assert [c[0] for c in embedder.calls] == ["smart goals", "feedback", "agenda", "feedback"]

    off = CountingEmbedder()
    off.embed_vector("x")
    off.embed_vector("x")
    assert len(off.calls) == 2, "cache_size 0: no cache"


def test_a_model_folder_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    with pytest.raises(BackendUnavailable, match="no model weights"):
        exported_model(tmp_path / "model", tmp_path / "cache")


@pytest.mark.real_model
def test_onnx_vectors_equal_sentence_transformers_and_the_export_is_reused(tmp_path: Path) -> None:
    from companion.knowledge.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

    cache = Path.home() / ".cache" / "companion" / "models"
    onnx = OnnxEmbedder(cache_dir=cache)
    stamp = onnx.onnx_path.stat().st_mtime_ns
    texts = ["How do I set SMART goals?", "x", (REPO / "knowledge" / "smart-goals.md").read_text()[:4000]]
    reference = SentenceTransformerEmbedder()
    assert np.abs(onnx.encode(texts, batch_size=2) - reference.encode(texts)).max() < 1e-5
    assert onnx.name == reference.name, "one name: either runtime reads the other's index"
    assert OnnxEmbedder(cache_dir=cache).onnx_path.stat().st_mtime_ns == stamp, "exported once"


@pytest.mark.real_model
def test_serving_with_onnx_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from companion.container import Services\n"
        "from companion.settings import Settings\n"
        f"s = Services(Settings(data_dir={str(tmp_path)!r}, store={{'mode': 'memory'}}))\n"
        "s.db.create_tables()\n"
        "s.retriever.retrieve(query='how do I set goals?')\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
