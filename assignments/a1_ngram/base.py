"""Provided (not graded): the integer n-gram index, the counts container and the model base.

Everything here is given to students. It holds the plumbing that makes the graded code fast
without being the point of the assignment:

- ``NgramIndex`` gives every k-gram (k = 0..max_order) that occurs in a padded corpus a dense
  integer *code*, so counts are plain numpy arrays indexed by code and a million lookups are
  a few ``np.searchsorted`` calls. A k-gram's code is the rank of ``code(prefix) * V + last``
  among the k-grams of the corpus, where V is the vocabulary size: a trie flattened into
  sorted arrays (KenLM's idea), which never overflows int64 whatever the order.
- ``NgramCounts`` is what ``counts.count_ngrams`` returns.
- ``NgramModelBase`` turns a model's vectorised ``probs(contexts, words)`` into the nltk.lm-style
  ``score`` and ``distribution`` and into lmcore's ``LanguageModel`` interface
  (``vocab``, ``logprobs``, ``next_distribution``), so the course's sampling and final
  perplexity table reuse every n-gram model unchanged.

Conventions (KenLM's; docs/conventions.md): a sentence of an order-n model is padded with n-1 ``<s>``
and one ``</s>``; ``<s>`` is never predicted; ``<unk>`` is a real word; the prediction space
is the vocabulary without ``<s>``, of size ``vocab.prediction_size``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmcore.vocab import BOS, Vocab


class NgramIndex:
    """Dense codes for the k-grams (k = 0..max_order) of a list of padded id sequences.

    Level 0 has one code (0, the empty context); level 1 codes are the token ids themselves
    (size V); level k >= 2 codes are 0..size(k)-1 for the distinct k-grams occurring inside
    some sequence (windows never cross sequences).

    Inputs:
    - sequences: list of int arrays, each a padded sentence as vocabulary ids
    - vocab_size: V, the number of ids
    - max_order: the longest k-gram to index
    """

    def __init__(self, sequences: Sequence[np.ndarray], vocab_size: int, max_order: int):
        if max_order < 1:
            raise ValueError(f"max_order must be >= 1, got {max_order}")
        self.V = int(vocab_size)
        self.max_order = int(max_order)
        seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
        stream = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        ends = np.repeat(np.cumsum(lengths), lengths)
        left = ends - np.arange(len(stream))           # tokens from each position to its end
        self._keys: list[np.ndarray | None] = [None, None]
        self._grams: list[np.ndarray] = [np.zeros((1, 0), np.int32),
                                         np.arange(self.V, dtype=np.int32)[:, None]]
        code = stream.copy()                            # level-1 code of the 1-gram at p
        self._at: list[np.ndarray | None] = [None, code]
        for k in range(2, self.max_order + 1):
            starts = np.nonzero(left >= k)[0]
            raw = code[starts] * self.V + stream[starts + k - 1]
            keys, inverse = np.unique(raw, return_inverse=True)
            code = np.full(len(stream), -1, np.int64)
            code[starts] = inverse
            self._at.append(code)
            prefix = self._grams[k - 1][keys // self.V]
            self._keys.append(keys)
            self._grams.append(np.column_stack([prefix, (keys % self.V).astype(np.int32)]))
        self._suffix: dict[int, np.ndarray] = {}

    def size(self, k: int) -> int:
        """The number of codes at level k."""
        return len(self._grams[k])

    def grams(self, k: int) -> np.ndarray:
        """The k-gram of every level-k code, as ids: (size(k), k) int32, row = code."""
        return self._grams[k]

    def position_codes(self, k: int) -> np.ndarray:
        """Level-k code of the k-gram that *starts* at each position of the sequences laid
        end to end (the order they were given in): (L,) int64, L = the total length; -1 where
        fewer than k tokens of its sequence are left. The index computes them while it is
        built, so reading the codes of every window of a corpus costs nothing more."""
        if not 1 <= k <= self.max_order:
            raise ValueError(f"this index holds k-grams up to k={self.max_order}, asked for {k}")
        return self._at[k]

    def prefix_codes(self, k: int) -> np.ndarray:
        """Level-(k-1) code of the first k-1 ids of every level-k code: (size(k),) int64."""
        if k == 1:
            return np.zeros(self.V, np.int64)
        return self._keys[k] // self.V

    def suffix_codes(self, k: int) -> np.ndarray:
        """Level-(k-1) code of the last k-1 ids of every level-k code: (size(k),) int64.
        (Every suffix of an occurring k-gram occurs, so no entry is -1.)"""
        if k not in self._suffix:
            self._suffix[k] = self.lookup(self._grams[k][:, 1:])
        return self._suffix[k]

    def lookup(self, grams: np.ndarray) -> np.ndarray:
        """Codes of the rows of ``grams`` (M, k) ids; -1 where the k-gram never occurred.

        Returns (M,) int64. k = 0 gives zeros (the empty context always exists)."""
        grams = np.asarray(grams, dtype=np.int64)
        if grams.ndim != 2:
            raise ValueError(f"grams must be a 2-d array (M, k), got shape {grams.shape}")
        M, k = grams.shape
        if k > self.max_order:
            raise ValueError(f"this index holds k-grams up to k={self.max_order}, asked for {k}")
        if k == 0:
            return np.zeros(M, np.int64)
        code = grams[:, 0].copy()
        ok = (code >= 0) & (code < self.V)
        code[~ok] = -1
        for j in range(1, k):
            keys = self._keys[j + 1]
            raw = code * self.V + grams[:, j]
            pos = np.minimum(np.searchsorted(keys, raw), max(len(keys) - 1, 0))
            ok &= (len(keys) > 0) & (grams[:, j] >= 0) & (grams[:, j] < self.V)
            ok &= keys[pos] == raw if len(keys) else False
            code = np.where(ok, pos, -1)
        return code

    def nbytes(self, k: int) -> int:
        """Bytes this index spends on level k (its keys and its id table)."""
        keys = self._keys[k] if k >= 2 else None
        return int((keys.nbytes if keys is not None else 0) + self._grams[k].nbytes)


@dataclass
class NgramCounts:
    """The counts of an order-n model (what ``count_ngrams`` returns).

    A k-gram is counted once for each *predicted* position of the padded training sentences
    (every token after the n-1 ``<s>``, ``</s>`` included), with its k-1 preceding tokens:
    so ``<s>`` is never the last token of a counted k-gram, and every k-gram is also a
    context-word event of the order-k model.

    - vocab: the vocabulary (ids of ``index``)
    - order: n
    - index: the ``NgramIndex`` of the padded training sentences, max_order = n
    - ngram_counts: list of length n + 1; ``ngram_counts[k]`` (k >= 1) is an int64 array of
      shape (index.size(k),): the count of the k-gram with that code; ``ngram_counts[0]``
      is ``None``
    - context_counts: list of length n + 1; ``context_counts[k]`` (k >= 1) is an int64 array
      of shape (index.size(k - 1),): how often the (k-1)-token context with that code precedes
      a predicted token, i.e. the sum of ``ngram_counts[k]`` over the words after it
      (``context_counts[1]`` has one entry: the number of predicted tokens N)
    """

    vocab: Vocab
    order: int
    index: NgramIndex
    ngram_counts: list
    context_counts: list

    def _ids(self, tokens: Sequence[str]) -> np.ndarray:
        return np.array([self.vocab[t] for t in tokens], dtype=np.int64).reshape(1, -1)

    def count(self, ngram: Sequence[str]) -> int:
        """How often the k-gram ``ngram`` (tokens; OOV maps to ``<unk>``) was counted."""
        k = len(ngram)
        if not 1 <= k <= self.order:
            raise ValueError(f"ngram must have 1..{self.order} tokens, got {k}")
        code = int(self.index.lookup(self._ids(ngram))[0])
        return int(self.ngram_counts[k][code]) if code >= 0 else 0

    def context_count(self, context: Sequence[str]) -> int:
        """How often ``context`` (0..n-1 tokens) preceded a predicted token."""
        k = len(context) + 1
        if not 1 <= k <= self.order:
            raise ValueError(f"context must have 0..{self.order - 1} tokens, got {k - 1}")
        code = int(self.index.lookup(self._ids(context))[0])
        return int(self.context_counts[k][code]) if code >= 0 else 0

    def codes(self, contexts: np.ndarray, words: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Codes of the order-k events of a batch of queries.

        Inputs:
        - contexts: (M, C) int ids, the preceding tokens (C >= k - 1; the last k-1 are used)
        - words: (M,) int ids
        - k: the order, 1..n

        Returns a tuple of:
        - gram_codes: (M,) level-k codes of (last k-1 context ids, word); -1 if never seen
        - context_codes: (M,) level-(k-1) codes of the last k-1 context ids; -1 if never seen
        """
        contexts = np.asarray(contexts, dtype=np.int64)
        words = np.asarray(words, dtype=np.int64)
        ctx = contexts[:, contexts.shape[1] - (k - 1):] if k > 1 else contexts[:, :0]
        gram_codes = self.index.lookup(np.column_stack([ctx, words]))
        return gram_codes, self.index.lookup(ctx)

    def lookup_counts(self, contexts: np.ndarray, words: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Order-k counts of a batch: (c(h, w), c(h)), each (M,) int64, 0 for unseen."""
        g, h = self.codes(contexts, words, k)
        c_hw = np.where(g >= 0, self.ngram_counts[k][np.maximum(g, 0)], 0)
        c_h = np.where(h >= 0, self.context_counts[k][np.maximum(h, 0)], 0)
        return c_hw, c_h


def pad_context(vocab: Vocab, context: Sequence[str], n: int) -> np.ndarray:
    """The n-1 ids that condition the next token after ``context`` (tokens of the sentence
    so far, ``<s>`` optional): left-padded with ``<s>``, OOV mapped to ``<unk>``. (n-1,) int64."""
    ids = [vocab.bos_id] * (n - 1) + [vocab[t] for t in context]
    return np.array(ids[len(ids) - (n - 1):] if n > 1 else [], dtype=np.int64)


class NgramModelBase:
    """What every n-gram model shares, built on one method that each model defines:

        probs(contexts, words) -> (M,) float64
            contexts: (M, n-1) int ids (the n-1 tokens before each word, <s>-padded)
            words: (M,) int ids in the prediction space (never <s>)

    From it this class gives ``score``, ``distribution`` (nltk.lm's names) and lmcore's
    ``LanguageModel`` interface: ``vocab``, ``logprobs(sentences)``,
    ``next_distribution(context)``.
    """

    def __init__(self, counts: NgramCounts):
        self.counts = counts
        self.vocab: Vocab = counts.vocab
        self.order: int = counts.order
        self.V: int = counts.vocab.prediction_size   # |V|: the prediction space, no <s>

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define probs(contexts, words)")

    # -- nltk.lm-style -------------------------------------------------------------------
    def score(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | context). ``context`` is the sentence so far (``<s>`` optional, only its
        last n-1 tokens matter; a shorter context is the start of a sentence). OOV tokens
        count as ``<unk>``; ``<s>`` is never predicted, so its score is 0."""
        if word == BOS:
            return 0.0
        ctx = pad_context(self.vocab, context, self.order)[None, :]
        return float(self.probs(ctx, np.array([self.vocab[word]]))[0])

    def distribution(self, context: Sequence[str] = ()) -> np.ndarray:
        """P(. | context) over vocabulary ids: (len(vocab),) float64, 0 at ``<s>``."""
        ids = self.vocab.prediction_ids
        ctx = np.repeat(pad_context(self.vocab, context, self.order)[None, :], len(ids), axis=0)
        p = np.zeros(len(self.vocab))
        p[ids] = self.probs(ctx, ids)
        return p

    # -- lmcore.lm.LanguageModel ---------------------------------------------------------
    def events(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Every predicted token of ``sentences`` with its context, in order.

        Returns a tuple of:
        - contexts: (M, n-1) int64 ids
        - words: (M,) int64 ids; M = sum(len(s) + 1): each sentence's words, then its </s>
        """
        n = self.order
        seqs = [np.array(self.vocab.encode_padded(s, n_bos=n - 1), dtype=np.int64)
                for s in sentences]
        if not seqs:
            return np.zeros((0, n - 1), np.int64), np.zeros(0, np.int64)
        stream = np.concatenate(seqs)
        lengths = np.array([len(s) for s in seqs])
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths - (n - 1))
        offsets = np.arange(len(starts)) - np.repeat(np.cumsum(lengths - (n - 1))
                                                     - (lengths - (n - 1)), lengths - (n - 1))
        pos = starts + offsets + (n - 1)               # the predicted positions
        contexts = stream[pos[:, None] - (n - 1) + np.arange(n - 1)]
        return contexts.reshape(len(pos), n - 1), stream[pos]

    def logprobs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """ln p of every predicted token (words, then </s>; never <s>): (sum(len+1),)."""
        contexts, words = self.events(sentences)
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(self.probs(contexts, words), dtype=np.float64))

    def next_distribution(self, context: Sequence[str]) -> np.ndarray:
        return self.distribution(context)
