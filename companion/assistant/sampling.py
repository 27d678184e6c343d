"""Grammar-constrained sampling for llama.cpp that checks the grammar only when it has to.

llama-cpp-python puts the grammar sampler first in its sampling chain, so at every token the grammar is
matched against the whole vocabulary (49,152 tokens for SmolLM2) before top-k even looks at the logits.
llama.cpp's own `common_sampler` does it the other way round, and so does `LazyGrammarSampler`:

1. run the ordinary chain (penalties, top-k, top-p, min-p, temperature, dist) on the raw logits and take
   the token it picks;
2. ask the grammar about that one token; when it is allowed (most tokens of a JSON reply are), that is
   the token;
3. only when the grammar refuses it: start again from the raw logits, mask the 1,024 best of them with
   the grammar, and run the chain on those when it can be shown that the left-out tokens would not change
   what the chain keeps (see `_from_shortlist`); otherwise mask the whole vocabulary, then run the chain.

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
from llama_cpp import _internals as internals
from llama_cpp import llama_cpp as C

SHORTLIST = 1024  # raw-logit candidates the grammar is tried on before the whole vocabulary
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class LazyGrammarSampler:
    """Stands in for llama-cpp-python's `LlamaSampler` inside `Llama.generate` (which calls `sample`)."""

    def __init__(
        self,
        *,
        chain: Any,
        grammar: Any,
        vocab: Any,
        n_vocab: int,
        penalties: Any = None,
        greedy: bool = False,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        shortlist: int = 0,
    ) -> None:
        self.chain = chain  # a llama_cpp._internals.LlamaSampler without the grammar
        self.penalties = penalties  # the chain's penalties on their own, fed the same tokens
        self.greedy, self.top_k, self.top_p, self.min_p = greedy, top_k, top_p, min_p
        usable = penalties is not None and (greedy or top_k > 0)
        self.shortlist = shortlist if usable and 0 < shortlist < n_vocab else 0
        self._short = np.zeros(max(self.shortlist, 1), dtype=_TOKEN_DATA)
        self._short_array: Any = C.llama_token_data_array(
            data=self._short.ctypes.data_as(C.llama_token_data_p), size=0, selected=-1, sorted=False
        )
        self.shortlisted = 0
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

    def _from_shortlist(self, logits: Any) -> int | None:
        """The token full masking would pick, found by masking only the `shortlist` best raw logits; None
        when that cannot be shown to give the chain the same candidates.

        Penalties only lower logits, so every token left out ends at or below `outside`, the best raw
        logit left out. The shortlisted allowed tokens above it (`above`, with their penalised logits)
        come first in any order the chain makes, in both cases. Greedy: the best of them is the answer.
        Sampling: when top-k keeps only them, or top-p cuts inside them whether or not up to top_k
        left-out tokens add their (bounded) mass to its normaliser, or min-p drops anything at
        `outside`, the chain keeps the same candidates with and without the left-out tokens."""
        n = self.shortlist
        order = np.argpartition(-logits, n)
        outside = float(logits[order[n]])
        short = self._short
        short["id"] = order[:n]
        short["logit"] = logits[order[:n]]
        short["p"] = 0.0
        array = self._short_array
        array.data = short.ctypes.data_as(C.llama_token_data_p)
        array.size, array.selected, array.sorted = n, -1, False
        C.llama_sampler_apply(self.grammar, ctypes.byref(array))
        allowed = np.isfinite(short["logit"])
        penalised = short.copy()
        view: Any = C.llama_token_data_array(
            data=penalised.ctypes.data_as(C.llama_token_data_p), size=n, selected=-1, sorted=False
        )
        C.llama_sampler_apply(self.penalties.sampler, ctypes.byref(view))
        values = penalised["logit"][allowed]
        above = np.sort(values[values > outside])[::-1].astype(np.float64)
        if above.size == 0 or not same_candidates(
            above, outside, greedy=self.greedy, top_k=self.top_k, top_p=self.top_p, min_p=self.min_p
        ):
            return None
        array.data = short.ctypes.data_as(C.llama_token_data_p)
        array.size, array.selected, array.sorted = n, -1, False
        C.llama_sampler_apply(self.chain.sampler, ctypes.byref(array))
        if array.selected < 0:
            return None
        self.shortlisted += 1
        return int(array.data[array.selected].id)

    def sample(self, ctx: Any, idx: int) -> int:
        self._fill(ctx, idx)
        C.llama_sampler_apply(self.chain.sampler, ctypes.byref(self._array))
        token = self._selected()
        if not self.allows(token):
            self.resampled += 1
            self._fill(ctx, idx)
            found = self._from_shortlist(self._data["logit"]) if self.shortlist else None
            if found is not None:
                token = found
            else:  # the shortlist left `_data` as `_fill` set it
                C.llama_sampler_apply(self.grammar, ctypes.byref(self._array))
                C.llama_sampler_apply(self.chain.sampler, ctypes.byref(self._array))
                token = self._selected()
        self.accept(token)
        self.tokens += 1
        return token

    def accept(self, token: int) -> None:
        C.llama_sampler_accept(self.grammar, token)
        self.chain.accept(token)
        if self.penalties is not None:
            self.penalties.accept(token)

    def reset(self) -> None:
        C.llama_sampler_reset(self.grammar)
        self.chain.reset()
        if self.penalties is not None:
            self.penalties.reset()

    def close(self) -> None:
        self.chain.close()
        if self.penalties is not None:
            self.penalties.close()


def same_candidates(
    above: Any, outside: float, *, greedy: bool, top_k: int, top_p: float, min_p: float
) -> bool:
    """Whether llama.cpp's top-k -> top-p -> min-p keep the same tokens of `above` (penalised logits in
    descending order, all > `outside`) and none other, whatever up to `top_k` more tokens with logits at
    or below `outside` are added. Greedy decoding needs only the best one."""
    if greedy or above.size >= top_k:
        return True
    best = float(above[0])
    weights = np.exp(above - best)
    extra = (top_k - above.size) * math.exp(outside - best)  # most the left-out tokens can add
    floor = best + math.log(min_p) if min_p > 0.0 else -math.inf  # min-p drops below it
    if top_p >= 1.0:  # no top-p cut: min-p must drop every left-out token
        return outside < floor
    low = np.cumsum(weights) / weights.sum()
    high = np.cumsum(weights) / (weights.sum() + extra)
    cut = int(np.argmax(low >= top_p))  # the earliest top-p can cut, more mass only cuts later
    if high[-1] >= top_p and cut == int(np.argmax(high >= top_p)):
        return True
    # top-p may keep more tokens in one case than the other: fine when min-p drops all of them
    return outside < floor and bool(np.all(above[cut + 1 :] < floor))


class LazyGrammarLlama(Llama):
    """`Llama` whose grammar-constrained sampling goes through `LazyGrammarSampler`. The last one used is
    kept in `last_sampler`, so a benchmark can read how often the grammar made it sample again."""

    last_sampler: LazyGrammarSampler | None = None

    def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
        grammar = kwargs.pop("grammar", None)  # `generate` passes everything by keyword
        chain = super()._init_sampler(*args, **kwargs)
        if grammar is None:
            return chain
        repeat, freq, present = (
            float(kwargs.get("repeat_penalty", 1.0)),
            float(kwargs.get("frequency_penalty", 0.0)),
            float(kwargs.get("presence_penalty", 0.0)),
        )
        temp = float(kwargs.get("temp", 0.8))
        # the shortlist needs the chain llama-cpp-python builds for plain sampling, with penalties that
        # only lower logits; anything else (mirostat, logits processors, typical-p) masks in full
        plain = (
            not kwargs.get("mirostat_mode")
            and kwargs.get("logits_processor") is None
            and float(kwargs.get("typical_p", 1.0)) >= 1.0
            and temp >= 0.0
            and repeat >= 1.0
            and freq >= 0.0
            and present >= 0.0
        )
        penalties = None
        if plain:
            penalties = internals.LlamaSampler()
            penalties.add_penalties(
                n_vocab=self._n_vocab,
                penalty_last_n=self.last_n_tokens_size,
                penalty_repeat=repeat,
                penalty_freq=freq,
                penalty_present=present,
            )
        sampler = LazyGrammarSampler(
            chain=chain,
            grammar=grammar,
            vocab=self._model.vocab,
            n_vocab=self._n_vocab,
            penalties=penalties,
            greedy=temp == 0.0,
            top_k=int(kwargs.get("top_k", 40)),
            top_p=float(kwargs.get("top_p", 0.95)),
            min_p=float(kwargs.get("min_p", 0.05)),
            shortlist=SHORTLIST if plain else 0,
        )
        self.last_sampler = sampler
        return sampler
