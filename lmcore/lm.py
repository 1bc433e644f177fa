"""One interface for every language model in the course, so that evaluation, sampling and the
final perplexity table are written once (makemore's lesson).

A language model is any object with:

    vocab: lmcore.vocab.Vocab
    logprobs(sentences) -> np.ndarray
        sentences: list of token lists (raw tokens, no padding; the model maps OOV to <unk>).
        Returns ln p of every *predicted* token, sentence by sentence: each sentence's words
        and then its one </s>, never <s>; shape (sum(len(s) + 1),), float64.
    next_distribution(context) -> np.ndarray
        context: the tokens generated so far in this sentence (no padding, may be empty).
        Returns probabilities over vocabulary ids, shape (len(vocab),), zero at <s>, sum 1.

n-gram models (a1), the window LM (a2), the numpy RNN/LSTM (a3) and the torch models (a4) all
implement it; ``perplexity`` and ``generate`` below serve them all.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from lmcore.vocab import EOS, Vocab


@runtime_checkable
class LanguageModel(Protocol):
    vocab: Vocab

    def logprobs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray: ...

    def next_distribution(self, context: Sequence[str]) -> np.ndarray: ...


def perplexity(model: LanguageModel, sentences: Sequence[Sequence[str]]) -> float:
    """exp of the mean negative log-probability over every predicted token (the course's
    convention, docs/conventions.md: </s> and <unk> included, <s> excluded; a zero
    probability gives inf)."""
    from lmcore.metrics import perplexity as ppl_from_logprobs

    lp = np.asarray(model.logprobs(sentences), dtype=np.float64)
    expected = sum(len(s) + 1 for s in sentences)
    if lp.shape != (expected,):
        raise ValueError(f"{type(model).__name__}.logprobs returned shape {lp.shape}; expected "
                         f"({expected},): one value per word and one per </s>")
    return ppl_from_logprobs(lp)


def sampling_distribution(p, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The distribution a token is drawn from: ``p`` reshaped by a temperature and top-k.

    - temperature t > 0: ``p ** (1 / t)`` renormalised, which is ``softmax(logits / t)`` for
      any logits whose softmax is ``p`` (below 1: sharper, above 1: flatter); t == 0 is
      greedy: all the mass on the most likely token (the first one on a tie).
    - top_k: only the tokens whose probability is at least the k-th largest keep their mass
      (ties at the k-th value are kept), then renormalise; None keeps every token.
    Tokens with p == 0 (``<s>``) stay at 0.

    Inputs:
    - p: (V,) probabilities (need not be normalised; non-negative, finite, not all 0)

    Returns:
    - q: (V,) float64, sums to one
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or not np.isfinite(p).all() or (p < 0).any() or not p.sum() > 0:
        raise ValueError("next_distribution must return a (V,) array of finite, non-negative "
                         f"probabilities with a positive sum; got shape {p.shape}, "
                         f"sum {p.sum() if p.size else 0.0:.6g}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if temperature == 0:
        q = np.zeros_like(p)
        q[int(np.argmax(p))] = 1.0
        return q
    if top_k is not None and top_k < len(p):
        kth = np.partition(p, len(p) - top_k)[len(p) - top_k]
        p = np.where(p >= kth, p, 0.0)
    if temperature != 1.0:
        # in log space, shifted by the largest log-probability, so that a small t cannot
        # underflow every entry to 0 (p ** 10 of p = 1e-40 is 0 in float64)
        with np.errstate(divide="ignore"):
            z = np.log(p) / temperature
        p = np.exp(z - z.max())
    return p / p.sum()


def generate(model: LanguageModel, rng: np.random.Generator, max_tokens: int = 30,
             prompt: Sequence[str] = (), *, temperature: float = 1.0,
             top_k: int | None = None) -> list[str]:
    """Sample one sentence, token by token, from ``model.next_distribution``: the one sampler
    of the course, for every model (free-running: each drawn token joins the context that
    the next draw is conditioned on).

    Each token is drawn from ``sampling_distribution(next_distribution(tokens so far),
    temperature, top_k)`` with ``rng``. Stops after ``</s>`` (not included in the result) or
    ``max_tokens`` drawn tokens. The same ``rng`` state gives the same sentence.

    Returns: list of str, the prompt's tokens then the drawn ones.
    """
    out = list(prompt)
    for _ in range(max_tokens):
        p = sampling_distribution(model.next_distribution(out), temperature, top_k)
        idx = int(rng.choice(len(p), p=p))
        token = model.vocab.token(idx)
        if token == EOS:
            break
        out.append(token)
    return out


class UniformLM:
    """The model that knows nothing: every predicted token equally likely, ``<s>`` never.

    Its perplexity is the size of the prediction space (``len(vocab) - 1``), the ceiling any
    trained model must get under.
    """

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def next_distribution(self, context: Sequence[str]) -> np.ndarray:
        p = np.ones(len(self.vocab))
        p[self.vocab.bos_id] = 0.0
        return p / p.sum()

    def logprobs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        n = sum(len(s) + 1 for s in sentences)
        return np.full(n, -np.log(self.vocab.prediction_size))
