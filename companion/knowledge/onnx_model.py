"""all-MiniLM-L6-v2 in ONNX Runtime: exported locally from the packaged model, nothing downloaded.

The export (the transformer, mean pooling over the attention mask, L2 normalization: what the
sentence-transformers pipeline of this model does) runs once per model, in a short-lived subprocess
(`python -m companion.knowledge.onnx_model EXPORT MODEL_DIR OUT`), so the process that serves queries
never imports torch. The file is cached in the data dir under the SHA-256 of the model's weights and this
module's export version: a changed model gets a new export.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from companion.errors import BackendUnavailable

EXPORT_VERSION = "1"
WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def model_digest(model_dir: Path) -> str:
    """SHA-256 of the weights (and the export version), which names the exported file."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    weights = next((model_dir / w for w in WEIGHTS if (model_dir / w).is_file()), None)
    if weights is None:
        raise BackendUnavailable(f"no model weights ({' or '.join(WEIGHTS)}) in {model_dir}")
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def exported_model(model_dir: Path, cache_dir: Path) -> Path:
    """The ONNX file for this model, exported first (in a subprocess) when it is not cached yet."""
    target = cache_dir / f"minilm-{model_digest(model_dir)[:16]}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    done = subprocess.run(
        [sys.executable, "-m", "companion.knowledge.onnx_model", str(model_dir), str(partial)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise BackendUnavailable(f"exporting the embedding model to ONNX failed: {' | '.join(tail)}"[:400])
    partial.replace(target)  # atomic: a concurrent start uses one whole file or exports its own
    return target


def export(model_dir: Path, out: Path) -> None:
    """Trace the model with mean pooling and normalization into one ONNX graph (needs torch)."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    model = Pooled().eval()
    sample = torch.ones((2, 8), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


class OnnxSession:
    """Tokenizer (the model's own tokenizer.json, through `tokenizers`) plus an ONNX Runtime session."""

    def __init__(self, model_dir: Path, onnx_path: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = model_dir / "sentence_bert_config.json"
        max_tokens = 256
        if config.is_file():
            max_tokens = int(json.loads(config.read_text()).get("max_seq_length", max_tokens))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # no spinning: idle pool threads would busy-wait after each call, taking the CPU the rest of the
        # request (and other requests) needs; measured on the shared 2-core machine, a query's embedding
        # p50 went from 15.2-15.8 to 4.6-7.7 ms with 2 threads (alternating runs under load)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no arena: it would keep the peak of the largest ingest batch (~600 MiB for 64 x 256 tokens) for
        # the life of the process; without it RSS returns to the model's size after each call
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # similar lengths share a batch
        out: np.ndarray | None = None
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            width = max(len(encodings[r].ids) for r in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                n = len(encodings[r].ids)
                ids[j, :n] = encodings[r].ids
                mask[j, :n] = 1
            (vectors,) = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out


if __name__ == "__main__":
    export(Path(sys.argv[1]), Path(sys.argv[2]))
