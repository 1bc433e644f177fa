"""Part one: counting and estimating with plain Python dicts, the way the lecture does it.

Before the vectorised models of ``counts.py`` and ``models.py`` (fast enough for the real
splits), write the same counts and three of the same models with dictionaries keyed by
token tuples, on the small corpora where every number can be checked by hand. The two
versions share one interface and one set of conventions, so the notebook can show that
they give the same probabilities, and how much faster the arrays are.

Conventions (KenLM's; docs/conventions.md): an order-n model pads a sentence with n-1 ``<s>``
and one ``</s>`` (``counts.pad``). Every token after the padding is *predicted* (the words
and the ``</s>``, never ``<s>``); for each order k = 1..n the model counts the k-gram that
ends at each predicted token, and the (k-1)-token context before it. With the trigram
padding ``<s> <s> i am </s>``:

    trigrams  (<s>, <s>, i)  (<s>, i, am)  (i, am, </s>)
    bigrams   (<s>, i)       (i, am)       (am, </s>)
    unigrams  (i,)           (am,)         (</s>,)

Tokens outside the vocabulary count as ``<unk>``, a real word. The prediction space is the
vocabulary without ``<s>``; its size is |V| = ``vocab.prediction_size``.

What you write: ``dict_counts``, ``DictMLE.prob``, ``DictAddK.prob`` and ``DictKneserNey``
(its continuation counts and ``prob``). ``DictCounts`` and ``DictLM`` are given: they turn
your ``prob(word, context)`` into ``score``, ``logscore``, ``next_distribution``,
``logprobs`` and ``perplexity``, the interface of the vectorised models and of lmcore.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmcore import lm as lmcore_lm
from lmcore.vocab import BOS, Vocab

from .counts import ngrams, pad  # noqa: F401 - ngrams: yours to use in dict_counts


@dataclass
class DictCounts:
    """The counts of an order-n model, as dicts (what ``dict_counts`` returns).

    - vocab: the vocabulary
    - order: n
    - ngram_counts: list of length n + 1; ``ngram_counts[k]`` (k >= 1) is a ``Counter`` from
      each k-gram (a tuple of k tokens, OOV as ``'<unk>'``) to how often it ended at a
      predicted token; ``ngram_counts[0]`` is ``None``
    - context_counts: list of length n + 1; ``context_counts[k]`` (k >= 1) is a ``Counter``
      from each (k-1)-token context to how often it preceded a predicted token (the sum of
      ``ngram_counts[k]`` over the words after it); ``context_counts[1]`` has one key, the
      empty tuple ``()``, whose count is the number of predicted tokens N
    """

    vocab: Vocab
    order: int
    ngram_counts: list
    context_counts: list

    def count(self, ngram: Sequence[str]) -> int:
        """How often the k-gram ``ngram`` (tokens; OOV maps to ``<unk>``) was counted."""
        k = len(ngram)
        if not 1 <= k <= self.order:
            raise ValueError(f"ngram must have 1..{self.order} tokens, got {k}")
        return int(self.ngram_counts[k].get(tuple(self.vocab.map_unk(ngram)), 0))

    def context_count(self, context: Sequence[str]) -> int:
        """How often ``context`` (0..n-1 tokens) preceded a predicted token."""
        k = len(context) + 1
        if not 1 <= k <= self.order:
            raise ValueError(f"context must have 0..{self.order - 1} tokens, got {k - 1}")
        return int(self.context_counts[k].get(tuple(self.vocab.map_unk(context)), 0))


def dict_counts(sentences: Sequence[Sequence[str]], n: int, vocab: Vocab) -> DictCounts:
    """Count, for every order k = 1..n, the k-gram that ends at each predicted token of the
    padded training sentences, and the (k-1)-token context before it.

    >>> c = dict_counts([["i", "am"]], 2, Vocab.build([["i", "am"]], min_count=1))
    >>> c.ngram_counts[2]
    Counter({('<s>', 'i'): 1, ('i', 'am'): 1, ('am', '</s>'): 1})
    >>> c.context_counts[2]
    Counter({('<s>',): 1, ('i',): 1, ('am',): 1})

    Inputs:
    - sentences: list of S sentences, each a list of tokens without padding (not modified)
    - n: the model's order, n >= 1
    - vocab: the vocabulary (built from the training sentences)

    Returns a ``DictCounts``.
    """
    ngram_counts: list = [None] + [Counter() for _ in range(n)]
    context_counts: list = [None] + [Counter() for _ in range(n)]
    # Hint: map OOV tokens to <unk> (vocab.map_unk), then pad with pad(sentence, n).
    # Hint: <s> is never predicted: a k-gram is counted only when its last token comes after
    # Hint: the n-1 <s>, so (<s>,) and (<s>, <s>) are never counted; </s> always is.
    raise NotImplementedError("dict_counts: write this part")
    return DictCounts(vocab=vocab, order=n, ngram_counts=ngram_counts,
                      context_counts=context_counts)


class DictLM:
    """What every dict model shares, built on one method that each model defines:

        prob(word, context) -> float
            word: a token of the prediction space (never <s>; OOV already mapped to <unk>)
            context: a tuple of exactly n-1 tokens, the ones before ``word`` (<s>-padded,
                     OOV already mapped to <unk>)

    From it this class gives the interface of the vectorised models: ``score``,
    ``logscore``, ``next_distribution`` (= ``distribution``), ``logprobs`` and
    ``perplexity`` (lmcore's), so ``lmcore.lm.generate`` samples from a dict model too.
    """

    def __init__(self, counts: DictCounts):
        self.counts = counts
        self.vocab: Vocab = counts.vocab
        self.order: int = counts.order
        self.V: int = counts.vocab.prediction_size   # |V|: the prediction space, no <s>

    def prob(self, word: str, context: tuple[str, ...]) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define prob(word, context)")

    def context_of(self, context: Sequence[str]) -> tuple[str, ...]:
        """The n-1 tokens that condition the next word after ``context`` (the sentence so
        far, ``<s>`` optional): left-padded with ``<s>``, OOV mapped to ``<unk>``."""
        n = self.order
        tokens = [BOS] * (n - 1) + self.vocab.map_unk(context)
        return tuple(tokens[len(tokens) - (n - 1):]) if n > 1 else ()

    def score(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | context); ``<s>`` is never predicted, so its score is 0."""
        if word == BOS:
            return 0.0
        return float(self.prob(self.vocab.lookup(word), self.context_of(context)))

    def logscore(self, word: str, context: Sequence[str] = ()) -> float:
        """ln P(word | context); ``-inf`` where the probability is 0."""
        p = self.score(word, context)
        return math.log(p) if p > 0 else -math.inf

    def next_distribution(self, context: Sequence[str]) -> np.ndarray:
        """P(. | context) over vocabulary ids: (len(vocab),) float64, 0 at ``<s>``."""
        h = self.context_of(context)
        p = np.zeros(len(self.vocab))
        for i, word in enumerate(self.vocab.itos):
            if word != BOS:
                p[i] = self.prob(word, h)
        return p

    distribution = next_distribution

    def logprobs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """ln p of every predicted token (each sentence's words, then its </s>): (sum(len+1),)."""
        n, out = self.order, []
        for sentence in sentences:
            tokens = pad(self.vocab.map_unk(sentence), n)
            for i in range(n - 1, len(tokens)):
                p = self.prob(tokens[i], tuple(tokens[i - (n - 1):i]))
                out.append(math.log(p) if p > 0 else -math.inf)
        return np.array(out, dtype=np.float64)

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """exp(-(1/N) sum ln p) over every predicted token: ``lmcore.lm.perplexity``."""
        if len(sentences) == 0:
            raise ValueError("perplexity of no sentence is undefined")
        return lmcore_lm.perplexity(self, sentences)


class DictMLE(DictLM):
    """Maximum likelihood: P(w | h) = c(h, w) / c(h), and the uniform 1/|V| where the context
    was never seen (c(h) = 0), as ``models.MLE``."""

    def prob(self, word: str, context: tuple[str, ...]) -> float:
        p = None
        # Hint: the order-n counts are self.counts.ngram_counts[n] and context_counts[n];
        # Hint: a Counter gives 0 for a key it never saw.
        raise NotImplementedError("DictMLE.prob: write this part")
        return p


class DictAddK(DictLM):
    """Add-k (Lidstone) smoothing: P(w | h) = (c(h, w) + k) / (c(h) + k |V|), as
    ``models.AddK``; |V| is the prediction space (``self.V``), without ``<s>``."""

    def __init__(self, counts: DictCounts, k: float = 1.0):
        super().__init__(counts)
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = float(k)

    def prob(self, word: str, context: tuple[str, ...]) -> float:
        p = None
        # Hint: every one of the |V| words gets k extra counts after h: what is the new total?
        raise NotImplementedError("DictAddK.prob: write this part")
        return p


class DictKneserNey(DictLM):
    """Interpolated Kneser-Ney with one absolute discount D, as ``models.KneserNey``.

    The highest order n uses the raw counts; every lower order k < n uses continuation
    counts: for a k-gram g, N1+(. g) = the number of distinct tokens v such that the
    (k+1)-gram (v,) + g was counted. With a(h, w) those counts at order k, a(h) = the sum of
    a(h, w) over w, and T(h) = the number of words w with a(h, w) > 0:

        P_k(w | h) = max(a(h, w) - D, 0) / a(h) + (D * T(h) / a(h)) * P_{k-1}(w | h')
                   = P_{k-1}(w | h')                 where a(h) = 0 (unseen context)
        P_0(w)     = 1 / |V|

    where h' is h without its first token (the order-k estimate uses the last k-1 tokens).

    After ``__init__``, for each order k = 1..n (index 0 unused):
    - ``self.a[k]``: dict from each k-gram to a(h, w) (raw counts at k = n, continuation
      counts below);
    - ``self.a_h[k]``: dict from each (k-1)-token context h to a(h);
    - ``self.types[k]``: dict from each context h to T(h).
    """

    def __init__(self, counts: DictCounts, discount: float = 0.75):
        super().__init__(counts)
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.discount = float(discount)
        n = self.order
        self.a: list = [None] * (n + 1)
        self.a_h: list = [None] * (n + 1)
        self.types: list = [None] * (n + 1)
        # Hint: the continuation count of a lower-order k-gram g counts the distinct words
        # Hint: seen before it, not how often it was seen: one per (k+1)-gram that ends with g.
        raise NotImplementedError("DictKneserNey.__init__: write this part")

    def prob(self, word: str, context: tuple[str, ...]) -> float:
        p = None
        # Hint: build the estimate bottom-up, from the uniform P_0 to P_n.
        raise NotImplementedError("DictKneserNey.prob: write this part")
        return p
