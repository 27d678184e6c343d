"""A short list of instruct models that run in llama.cpp, by Hugging Face repository and GGUF file name.

`companion model pull NAME` builds the download URL from the entry; nothing here is fetched until then.
Sizes are approximate (Q4_K_M quantisation); licences are the model publishers' own, check them before
you deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

HF_RESOLVE = "https://huggingface.co/{repo}/resolve/main/{file}"


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    repo: str
    file: str
    approx_gb: float
    licence: str
    chat_template: str

    @property
    def url(self) -> str:
        return HF_RESOLVE.format(repo=self.repo, file=self.file)


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "qwen2.5-0.5b-instruct",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        0.49,
        "Apache-2.0",
        "ChatML, read from the GGUF metadata",
    ),
    CatalogueEntry(
        "qwen2.5-1.5b-instruct",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        1.1,
        "Apache-2.0",
        "ChatML, read from the GGUF metadata",
    ),
    CatalogueEntry(
        "qwen2.5-3b-instruct",
        "Qwen/Qwen2.5-3B-Instruct-GGUF",
        "qwen2.5-3b-instruct-q4_k_m.gguf",
        2.1,
        "Qwen Research licence (non-commercial)",
        "ChatML, read from the GGUF metadata",
    ),
    CatalogueEntry(
        "llama-3.2-1b-instruct",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        0.81,
        "Llama 3.2 Community Licence",
        "Llama 3 header tokens, read from the GGUF metadata",
    ),
    CatalogueEntry(
        "llama-3.2-3b-instruct",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        2.0,
        "Llama 3.2 Community Licence",
        "Llama 3 header tokens, read from the GGUF metadata",
    ),
    CatalogueEntry(
        "smollm2-1.7b-instruct",
        "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF",
        "smollm2-1.7b-instruct-q4_k_m.gguf",
        1.06,
        "Apache-2.0",
        "ChatML (the packaged 135M model's big sibling), read from the GGUF metadata",
    ),
)


def find(name: str) -> CatalogueEntry | None:
    wanted = name.strip().lower()
    return next((entry for entry in CATALOGUE if entry.name == wanted), None)
