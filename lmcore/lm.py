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
    """exp of the mean negative log-probability over every predicted token (DESIGN's rule:
    </s> and <unk> included, <s> excluded; a zero probability gives inf)."""
    from lmcore.metrics import perplexity as ppl_from_logprobs

    lp = np.asarray(model.logprobs(sentences), dtype=np.float64)
    expected = sum(len(s) + 1 for s in sentences)
    if lp.shape != (expected,):
        raise ValueError(f"{type(model).__name__}.logprobs returned shape {lp.shape}; expected "
                         f"({expected},): one value per word and one per </s>")
    return ppl_from_logprobs(lp)


def generate(model: LanguageModel, rng: np.random.Generator, max_tokens: int = 30,
             prompt: Sequence[str] = ()) -> list[str]:
    """Sample one sentence, token by token, from ``model.next_distribution``.

    Stops after ``</s>`` (not included in the result) or ``max_tokens`` tokens. The same
    ``rng`` state gives the same sentence.
    """
    out = list(prompt)
    for _ in range(max_tokens):
        p = np.asarray(model.next_distribution(out), dtype=np.float64)
        idx = int(rng.choice(len(p), p=p / p.sum()))
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
