"""Cross-entropy and perplexity from the log-probabilities of predicted tokens.

Every function takes ``logprobs``: ln p (natural log) of each predicted token, any shape,
as ``LanguageModel.logprobs`` returns them (the course's convention, docs/conventions.md:
``</s>`` and ``<unk>`` included, ``<s>`` excluded). A zero probability (ln p = -inf) gives an infinite cross-entropy and
perplexity, quietly: an n-gram model without smoothing is expected to do that.
"""
from __future__ import annotations

import math

import numpy as np


def _checked(logprobs) -> np.ndarray:
    lp = np.asarray(logprobs, dtype=np.float64).ravel()
    if lp.size == 0:
        raise ValueError("no log-probabilities: perplexity needs at least one predicted token "
                         "(is the evaluation split empty?)")
    if np.isnan(lp).any():
        i = int(np.flatnonzero(np.isnan(lp))[0])
        raise ValueError(f"log-probability {i} is NaN; the model produced an invalid value")
    if (lp > 1e-9).any():
        i = int(np.flatnonzero(lp > 1e-9)[0])
        raise ValueError(f"log-probability {i} is {lp[i]:.6g} > 0, so p > 1; pass ln p, not p "
                         "(or check that the distribution is normalised)")
    return lp


def cross_entropy(logprobs) -> float:
    """Mean negative log-probability in nats, -(1/N) * sum(ln p); inf if any p is 0."""
    return float(-_checked(logprobs).mean())   # a -inf entry makes the mean -inf, quietly


def bits_per_token(logprobs) -> float:
    """Cross-entropy in bits: cross_entropy / ln 2."""
    return cross_entropy(logprobs) / math.log(2)


def perplexity(logprobs) -> float:
    """exp(-(1/N) * sum(ln p)): exp of the cross-entropy; inf if any p is 0.

    >>> round(perplexity(np.log([0.5, 0.25])), 6)   # geometric mean of 1/p: sqrt(2 * 4)
    2.828427
    """
    try:
        return math.exp(cross_entropy(logprobs))
    except OverflowError:   # cross-entropy above ~709.78 nats
        return math.inf
