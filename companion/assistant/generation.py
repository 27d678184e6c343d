"""The generation loop every assistant task shares:

prompt -> model -> parse -> pydantic validation -> task checks and the prompt guard (no quoted prompt, no
obeyed injection: `guard.py`) -> (problems? one repair call) -> result, or None so the caller builds its
grounded fallback. Backend errors either propagate (503/504) or, with `fallback_on_error`, end the loop
with the reason recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from companion.assistant.guard import PromptGuard, strings_in
from companion.assistant.llm import ChatModel, Message, StructuredReply
from companion.assistant.prompts import PromptLibrary
from companion.errors import BackendTimeout, BackendUnavailable, validation_problems

S = TypeVar("S", bound=BaseModel)
R = TypeVar("R")


@dataclass
class Attempts(Generic[R]):
    value: R | None = None
    calls: int = 0
    problems: list[str] = field(default_factory=list)
    model_seconds: float = 0.0


class Generator:
    def __init__(self, *, llm: ChatModel, prompts: PromptLibrary, fallback_on_error: bool) -> None:
        self.llm = llm
        self.prompts = prompts
        self.fallback_on_error = fallback_on_error

    def structured(
        self,
        *,
        task: str,
        variables: dict[str, Any],
        schema: type[S],
        check: Callable[[S], list[str]],
    ) -> Attempts[S]:
        messages = self.prompts.render(task, **variables)
        guard = PromptGuard([m.content for m in messages], strings_in(variables))

        def call(msgs: list[Message]) -> tuple[S | None, list[str], str]:
            reply = self.llm.structured(msgs, schema)
            value, problems = _validate(reply, schema, check, guard)
            return value, problems, reply.raw

        return self._loop(messages, call)

    def text(
        self, *, messages: list[Message], check: Callable[[str], list[str]], tries: int = 2
    ) -> Attempts[str]:
        def call(msgs: list[Message]) -> tuple[str | None, list[str], str]:
            text = self.llm.complete(msgs).strip()
            problems = check(text)
            return (None if problems else text), problems, text

        return self._loop(messages, call, tries)

    def repair_messages(self, messages: list[Message], raw: str, problems: list[str]) -> list[Message]:
        fix = self.prompts.render("repair", problems=problems)[1]
        return [*messages, Message("assistant", raw[:4000] or "(empty reply)"), fix]

    def _loop(
        self,
        messages: list[Message],
        call: Callable[[list[Message]], tuple[R | None, list[str], str]],
        tries: int = 2,
    ) -> Attempts[R]:
        """Up to `tries` calls: the first, then repairs that name the problems found."""
        result: Attempts[R] = Attempts()
        current = messages
        for attempt in range(tries):
            result.calls += 1
            started = time.perf_counter()
            try:
                value, problems, raw = call(current)
            except (BackendUnavailable, BackendTimeout) as exc:
                result.model_seconds += time.perf_counter() - started
                if not self.fallback_on_error:
                    raise
                result.problems.append(f"model unavailable: {exc.message}")
                return result
            result.model_seconds += time.perf_counter() - started
            if value is not None:
                result.value = value
                return result
            label = "reply" if attempt == 0 else "repaired reply"
            result.problems.extend(f"{label}: {p}" for p in problems)
            current = self.repair_messages(messages, raw, problems)
        return result


def _validate(
    reply: StructuredReply, schema: type[S], check: Callable[[S], list[str]], guard: PromptGuard
) -> tuple[S | None, list[str]]:
    if reply.data is None:
        return None, ["the reply was not a JSON object"]
    try:
        value = schema.model_validate(reply.data)
    except ValidationError as exc:
        return None, [str(p) for p in validation_problems(exc, whole="reply")[:8]]
    problems = check(value) + guard.problems(strings_in(value.model_dump()))
    return (None, problems) if problems else (value, [])
