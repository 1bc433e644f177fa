"""Padding, n-gram extraction, counting, and the sparsity and storage measurements.

Conventions (KenLM's; docs/conventions.md): an order-n model pads a sentence with n-1 ``<s>`` and one
``</s>``. Every token after the padding is *predicted* (the words and the ``</s>``, never
``<s>``); the model counts, for every order k = 1..n, the k-gram that ends at each predicted
position. With the trigram padding ``<s> <s> i am </s>`` the trigrams are
``(<s>, <s>, i), (<s>, i, am), (i, am, </s>)``, the bigrams ``(<s>, i), (i, am), (am, </s>)``
and the unigrams ``(i,), (am,), (</s>,)``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmcore.vocab import BOS, EOS, Vocab

from .base import NgramCounts, NgramIndex


def pad(sentence: Sequence[str], n: int) -> list[str]:
    """The sentence padded for an order-n model: n-1 ``<s>``, the tokens, one ``</s>``.

    >>> pad(["i", "am"], 3)
    ['<s>', '<s>', 'i', 'am', '</s>']

    Inputs:
    - sentence: list of T tokens (not modified)
    - n: the model's order, n >= 1

    Returns a new list of T + n tokens.
    """
    ### BEGIN SOLUTION
    # HINT: a unigram model (n = 1) has no <s> at all; every model has exactly one </s>.
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [BOS] * (n - 1) + list(sentence) + [EOS]
    ### END SOLUTION


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Every run of n consecutive tokens, in order, as tuples.

    >>> ngrams(['<s>', 'i', 'am', '</s>'], 2)
    [('<s>', 'i'), ('i', 'am'), ('am', '</s>')]

    Inputs:
    - tokens: list of T tokens (not modified)
    - n: n >= 1

    Returns a list of max(0, T - n + 1) tuples of n tokens.
    """
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    tokens = list(tokens)
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    ### END SOLUTION


def count_ngrams(sentences: Sequence[Sequence[str]], n: int, vocab: Vocab) -> NgramCounts:
    """Count every order k = 1..n of the padded training sentences, with context counts.

    Tokens outside ``vocab`` count as ``<unk>``. Build the index from the padded sentences
    as ids (``NgramIndex(seqs, len(vocab), n)``), then, for each order k, count the k-gram
    ending at each predicted position (``ngram_counts[k]``, indexed by the index's level-k
    codes: ``index.position_codes(k)`` has the code of the k-gram starting at every position,
    ``index.lookup`` finds the code of any k-gram) and the (k-1)-token context before it
    (``context_counts[k]``, by level-(k-1) codes). See ``NgramCounts`` for the exact layout.

    Inputs:
    - sentences: list of S sentences, each a list of tokens without padding (not modified)
    - n: the model's order, n >= 1
    - vocab: the vocabulary (built from the training sentences)

    Returns an ``NgramCounts``.
    """
    ### BEGIN SOLUTION
    # HINT: pad each sentence with pad(sentence, n) and turn it into ids with vocab.encode
    # HINT: (on the real train split, one call over all the tokens is much faster than one a
    # HINT: sentence). np.bincount(codes, minlength=index.size(k)) counts codes in one call; a
    # HINT: context's count is the sum of the counts of the k-grams that extend it
    # HINT: (index.prefix_codes).
    padded = [pad(s, n) for s in sentences]
    lengths = np.array([len(p) for p in padded], dtype=np.int64)
    # one encode and one array for the whole corpus, cut back into sentences: one of each per
    # sentence (98,007 on the real train split) costs more than all the counting
    stream = np.array(vocab.encode([t for p in padded for t in p]), dtype=np.int64)
    ends = np.cumsum(lengths).tolist()
    seqs = [stream[end - len(p):end] for p, end in zip(padded, ends)]
    index = NgramIndex(seqs, len(vocab), n)
    # position of each token inside its own padded sentence; predicted ones are >= n-1
    inside = np.arange(len(stream)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    predicted = np.nonzero(inside >= n - 1)[0]
    ngram_counts: list = [None]
    context_counts: list = [None]
    for k in range(1, n + 1):
        codes = index.position_codes(k)[predicted - (k - 1)]   # k-grams ending at predicted
        ngram_counts.append(np.bincount(codes, minlength=index.size(k)).astype(np.int64))
        context_counts.append(np.bincount(index.prefix_codes(k), weights=ngram_counts[k],
                                          minlength=index.size(k - 1)).astype(np.int64))
    return NgramCounts(vocab=vocab, order=n, index=index, ngram_counts=ngram_counts,
                       context_counts=context_counts)
    ### END SOLUTION


def unseen_rate(train_counts: NgramCounts, sentences: Sequence[Sequence[str]], k: int) -> float:
    """The fraction of the order-k events of ``sentences`` never counted in training.

    The events are the k-grams ending at every predicted position of the sentences padded
    for the order-k model (k-1 ``<s>``, one ``</s>``), OOV tokens mapped to ``<unk>``;
    an event is unseen when its k-gram has count 0 in ``train_counts``.

    Inputs:
    - train_counts: counts of order n >= k
    - sentences: list of sentences (not modified)
    - k: 1 <= k <= train_counts.order

    Returns a float in [0, 1] (0.0 when there is no event).
    """
    ### BEGIN SOLUTION
    if not 1 <= k <= train_counts.order:
        raise ValueError(f"k must be in 1..{train_counts.order}, got {k}")
    vocab = train_counts.vocab
    # each sentence encoded once, then its k-grams cut from the ids
    grams = [ids[i:i + k] for ids in (vocab.encode(pad(s, k)) for s in sentences)
             for i in range(len(ids) - k + 1)]
    if not grams:
        return 0.0
    codes = train_counts.index.lookup(np.array(grams, dtype=np.int64).reshape(len(grams), k))
    seen = (codes >= 0) & (train_counts.ngram_counts[k][np.maximum(codes, 0)] > 0)
    return float(1.0 - seen.mean())
    ### END SOLUTION


def table_size(counts: NgramCounts, k: int) -> dict:
    """How many distinct k-grams the model stores, and their memory in a flat table.

    A stored k-gram is one with a count > 0. The flat table keeps, per stored k-gram, its k
    word ids as int32 and its count as int64: ``bytes = ngrams * (4 * k + 8)``.

    Returns {"ngrams": int, "bytes": int}.
    """
    ### BEGIN SOLUTION
    stored = int(np.count_nonzero(counts.ngram_counts[k]))
    return {"ngrams": stored, "bytes": stored * (4 * k + 8)}
    ### END SOLUTION
