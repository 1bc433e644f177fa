"""Turning sentences into training data for the neural LMs.

Two layouts, both predicting exactly the tokens that an n-gram model predicts on the same
split (per sentence: its words, then its one ``</s>``; never ``<s>``), so that every model's
perplexity is measured over the same ``sum(len(s) + 1 for s in sentences)`` tokens:

- ``window_pairs`` for the fixed-window LM (a2): one (context, target) pair per predicted
  token, the context padded with ``<s>`` at the start of each sentence, exactly the n-grams
  of an order ``n_context + 1`` model.
- ``stream`` and ``bptt_batches`` for the recurrent LMs (a3, a4): the split as one long id
  stream, cut into N rows read in chunks of T steps, so the hidden state at the end of one
  chunk is the right starting state for the next (truncated backpropagation through time).

Letters: minibatch (rows) N, chunk length T, number of pairs M, context length n_context.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from lmcore.vocab import Vocab

IGNORE = -100
"""Target id of padded positions in ``bptt_batches``: they predict nothing and must be masked
out of the loss. -100 is torch's default ``ignore_index``, so ``F.cross_entropy`` skips them
without being told; in numpy use ``mask = y != IGNORE``."""


def stream(sentences: Sequence[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """The sentences as one id stream: ``<s>`` once, then each sentence's ids and ``</s>``.

    ``stream([["a", "b"], ["c"]], vocab)`` is the ids of ``<s> a b </s> c </s>``.
    Out-of-vocabulary tokens become ``<unk>``.

    The leading ``<s>`` is context only; every later position is predicted from everything
    before it. So the predicted tokens are ``ids[1:]``: each sentence's words and its
    ``</s>``, each exactly once, ``n_predicted(ids) == sum(len(s) + 1 for s in sentences)``,
    the same tokens an n-gram model predicts. The difference is the context: a sentence after
    the first is conditioned on the previous ``</s>`` (and, through the hidden state, on the
    text before it) rather than on a fresh ``<s>``; this is the usual convention for
    recurrent LMs on Penn Treebank and WikiText.

    Returns:
    - ids: (1 + sum(len(s) + 1),) int64
    """
    ids = [vocab.bos_id]
    for sentence in sentences:
        ids.extend(vocab.encode(sentence))
        ids.append(vocab.eos_id)
    return np.asarray(ids, dtype=np.int64)


def n_predicted(ids: np.ndarray) -> int:
    """How many tokens a stream predicts: every id but the first, ``len(ids) - 1``.

    This is the count to divide by for perplexity; ``bptt_batches`` yields exactly this many
    targets that are not ``IGNORE``.
    """
    return max(0, len(ids) - 1)


def _row_length(ids: np.ndarray, N: int, T: int) -> int:
    """Predicted tokens per row, L = ceil(n_predicted / N); validates the arguments."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D id stream, got shape {ids.shape}")
    if N < 1 or T < 1:
        raise ValueError(f"N and T must be >= 1, got N={N}, T={T}")
    n = n_predicted(ids)
    if n < N:
        raise ValueError(f"a stream of {len(ids)} ids predicts {n} tokens, fewer than the "
                         f"N={N} rows asked for; use a smaller N")
    return -(-n // N)


def n_chunks(ids: np.ndarray, N: int, T: int) -> int:
    """How many (x, y) chunks ``bptt_batches(ids, N, T)`` yields: ceil(L / T)."""
    return -(-_row_length(ids, N, T) // T)


def bptt_batches(ids: np.ndarray, N: int, T: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of a stream for truncated BPTT, every predicted token exactly once.

    The L * N predicted positions (L = ceil(n_predicted(ids) / N)) are cut into N contiguous
    rows: row r reads ``ids[r*L : r*L + L]`` and predicts ``ids[r*L + 1 : r*L + L + 1]``.
    The rows are read side by side, T steps at a time, so row r of one chunk continues row r
    of the chunk before: carry the hidden state (detached, in torch) from chunk to chunk.

    Nothing is dropped:
    - the last chunk is shorter when T does not divide L (shape (N, L % T));
    - when N does not divide n_predicted, the end of the last row(s) (fewer than N
      positions in all) has nothing to predict: y holds ``IGNORE`` there and x holds 0.
      These positions come after every real token of their row, so they never feed a
      hidden state that a real prediction uses. Mask them: ``mask = y != IGNORE``.

    Inputs:
    - ids: (S,) int id stream, from ``stream``
    - N: number of rows (the minibatch size)
    - T: chunk length (steps of backpropagation)

    Yields ``n_chunks(ids, N, T)`` pairs (x, y):
    - x: (N, T') int64 input ids, T' = T except possibly in the last chunk
    - y: (N, T') int64 target ids, ``y[:, t]`` is the token after ``x[:, t]`` (x shifted by
      one), or ``IGNORE``; ``(y != IGNORE).sum()`` over all chunks is ``n_predicted(ids)``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    L = _row_length(ids, N, T)
    padded_x = np.zeros(N * L + 1, dtype=np.int64)
    padded_x[:len(ids)] = ids
    padded_y = np.full(N * L + 1, IGNORE, dtype=np.int64)
    padded_y[:len(ids)] = ids
    x_rows = padded_x[:-1].reshape(N, L)   # row r: positions r*L .. r*L + L - 1
    y_rows = padded_y[1:].reshape(N, L)    # row r: positions r*L + 1 .. r*L + L
    for start in range(0, L, T):
        yield x_rows[:, start:start + T].copy(), y_rows[:, start:start + T].copy()


def window_pairs(sentences: Sequence[Sequence[str]], vocab: Vocab,
                 n_context: int) -> tuple[np.ndarray, np.ndarray]:
    """(context, target) pairs for a fixed-window LM, one per predicted token.

    Each sentence is padded KenLM's way, ``n_context`` ``<s>`` then its ids then ``</s>``,
    and every token after the padding is a target with the ``n_context`` ids before it as
    its context. For ``[["a", "b"]]`` and n_context=2 the pairs are
    ``(<s> <s>) -> a``, ``(<s> a) -> b``, ``(a b) -> </s>``: exactly the tokens an n-gram
    model of order n_context + 1 predicts, in sentence order. Out-of-vocabulary tokens
    become ``<unk>``.

    Returns a tuple of:
    - contexts: (M, n_context) int64, M = sum(len(s) + 1 for s in sentences)
    - targets: (M,) int64, never ``<s>``
    """
    if n_context < 0:
        raise ValueError(f"n_context must be >= 0, got {n_context}")
    # Vectorised (the train split has ~1M pairs): lay the padded sentences end to end in
    # one array, then gather each target and the n_context ids before it.
    body = [vocab.encode(s) + [vocab.eos_id] for s in sentences]   # the predicted ids
    lengths = np.array([len(b) for b in body], dtype=np.int64)
    M = int(lengths.sum())
    padded = np.full(M + n_context * len(body), vocab.bos_id, dtype=np.int64)
    # sentence k's first target sits after its own padding and everything before it
    first = np.cumsum(lengths + n_context) - lengths
    # position of each target: its sentence's first position plus its offset within it
    offset = np.arange(M) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    where = np.repeat(first, lengths) + offset                       # (M,)
    padded[where] = np.fromiter((t for b in body for t in b), dtype=np.int64, count=M)
    contexts = padded[where[:, None] + np.arange(-n_context, 0)]     # (M, n_context)
    return contexts, padded[where]
