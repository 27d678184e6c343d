"""Grammar-constrained sampling for llama.cpp that checks the grammar only when it has to.

llama-cpp-python puts the grammar sampler first in its sampling chain, so at every token the grammar is
matched against the whole vocabulary (49,152 tokens for SmolLM2) before top-k even looks at the logits.
llama.cpp's own `common_sampler` does it the other way round, and so does `LazyGrammarSampler`:

1. run the ordinary chain (penalties, top-k, top-p, min-p, temperature, dist) on the raw logits and take
   the token it picks;
2. ask the grammar about that one token; when it is allowed (most tokens of a JSON reply are), that is
   the token;
3. only when the grammar refuses it: start again from the raw logits, mask the whole vocabulary with the
   grammar, then run the chain on what is left.

Either way the token is one the grammar allows, so the output is exactly as constrained as before; only
the cost of finding it changes. `LazyGrammarLlama` is `llama_cpp.Llama` with this sampler whenever a
grammar is given (the JSON-schema `response_format` of `create_chat_completion` included).
"""

from __future__ import annotations

import ctypes
import math
import weakref
from typing import Any

import numpy as np
from llama_cpp import Llama
from llama_cpp import llama_cpp as C

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class LazyGrammarSampler:
    """Stands in for llama-cpp-python's `LlamaSampler` inside `Llama.generate` (which calls `sample`)."""

    def __init__(self, *, chain: Any, grammar: Any, vocab: Any, n_vocab: int) -> None:
        self.chain = chain  # a llama_cpp._internals.LlamaSampler without the grammar
        self.grammar = C.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        weakref.finalize(self, C.llama_sampler_free, self.grammar)
        self.n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.intc)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._array: Any = C.llama_token_data_array(
            data=self._data.ctypes.data_as(C.llama_token_data_p), size=n_vocab, selected=-1, sorted=False
        )
        self._one: Any = C.llama_token_data(id=0, logit=0.0, p=0.0)
        self._one_array: Any = C.llama_token_data_array(
            data=ctypes.pointer(self._one), size=1, selected=-1, sorted=False
        )
        self.tokens = 0
        self.resampled = 0

    def _fill(self, ctx: Any, idx: int) -> None:
        logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        # samplers sort the buffer in place (ids included), move `data` and shrink `size`: all of it is
        # set again for every token
        self._data["id"] = self._ids
        self._data["logit"] = logits
        self._data["p"] = 0.0
        self._array.data = self._data.ctypes.data_as(C.llama_token_data_p)
        self._array.size = self.n_vocab
        self._array.selected = -1
        self._array.sorted = False

    def _selected(self) -> int:
        if self._array.selected < 0:
            raise ValueError("the sampling chain selected no token")
        return int(self._array.data[self._array.selected].id)

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, accepts `token` next."""
        self._one.id, self._one.logit, self._one.p = token, 1.0, 0.0
        self._one_array.data = ctypes.pointer(self._one)
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        C.llama_sampler_apply(self.grammar, ctypes.byref(self._one_array))
        return not math.isinf(self._one_array.data[0].logit)

    def sample(self, ctx: Any, idx: int) -> int:
        self._fill(ctx, idx)
        C.llama_sampler_apply(self.chain.sampler, ctypes.byref(self._array))
        token = self._selected()
        if not self.allows(token):
            self.resampled += 1
            self._fill(ctx, idx)
            C.llama_sampler_apply(self.grammar, ctypes.byref(self._array))
            C.llama_sampler_apply(self.chain.sampler, ctypes.byref(self._array))
            token = self._selected()
        C.llama_sampler_accept(self.grammar, token)
        self.chain.accept(token)
        self.tokens += 1
        return token

    def accept(self, token: int) -> None:
        C.llama_sampler_accept(self.grammar, token)
        self.chain.accept(token)

    def reset(self) -> None:
        C.llama_sampler_reset(self.grammar)
        self.chain.reset()

    def close(self) -> None:
        self.chain.close()


class LazyGrammarLlama(Llama):
    """`Llama` whose grammar-constrained sampling goes through `LazyGrammarSampler`. The last one used is
    kept in `last_sampler`, so a benchmark can read how often the grammar made it sample again."""

    last_sampler: LazyGrammarSampler | None = None

    def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
        grammar = kwargs.pop("grammar", None)  # `generate` passes everything by keyword
        chain = super()._init_sampler(*args, **kwargs)
        if grammar is None:
            return chain
        sampler = LazyGrammarSampler(
            chain=chain, grammar=grammar, vocab=self._model.vocab, n_vocab=self._n_vocab
        )
        self.last_sampler = sampler
        return sampler
