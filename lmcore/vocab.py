"""The vocabulary: words seen at least ``min_count`` times in training, plus three specials.

The default cutoff depends on the text. A corpus that already contains ``<unk>`` (Penn
Treebank, WikiText) had its vocabulary closed by its makers: every word type in it is meant to
stay, so ``Vocab.build`` keeps them all (``min_count`` 1). Any other corpus (Shakespeare, the
default) keeps the words seen at least twice (``min_count`` 2). An explicit ``min_count`` always
wins. ``default_min_count`` gives the rule.

Ids are fixed by construction so that every model in the course agrees on them:
``<unk>`` = 0, ``<s>`` = 1, ``</s>`` = 2, then the words by decreasing training count
(ties broken alphabetically). ``<s>`` is a context-only token: it is never predicted, so the
*prediction space* is every id but ``<s>`` (``vocab.prediction_ids``), of size
``len(vocab) - 1``. ``<unk>`` is a real word with real probability.
"""
from __future__ import annotations

from collections import Counter
from itertools import chain
from collections.abc import Iterable, Sequence

import numpy as np

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)
OPEN_MIN_COUNT = 2     # the default cutoff for a corpus without <unk>
CLOSED_MIN_COUNT = 1   # ... and for one whose makers already mapped rare words to <unk>


def default_min_count(has_unk: bool) -> int:
    """The cutoff ``Vocab.build`` uses when given none: 1 if the text has ``<unk>``, else 2.

    >>> default_min_count(True), default_min_count(False)
    (1, 2)
    """
    return CLOSED_MIN_COUNT if has_unk else OPEN_MIN_COUNT


class Vocab:
    """Token <-> id mapping with ``<unk>``, ``<s>`` and ``</s>``.

    >>> v = Vocab.build([["a", "b", "a"], ["a", "c"]], min_count=2)
    >>> v.itos
    ['<unk>', '<s>', '</s>', 'a']
    >>> v.encode(["a", "z"])
    [3, 0]
    """

    unk_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, words: Sequence[str], counts: dict[str, int] | None = None,
                 min_count: int = 1):
        words = list(words)
        clash = [w for w in words if w in SPECIALS]
        if clash:
            raise ValueError(f"{clash[0]!r} is a reserved token and cannot be a vocabulary word")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary words must be unique")
        self.itos: list[str] = [*SPECIALS, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.counts: dict[str, int] = dict(counts or {})
        self.min_count = min_count

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int | None = None) -> "Vocab":
        """Words of ``sentences`` seen at least ``min_count`` times, most frequent first.

        ``min_count=None`` (the default) picks the cutoff from the text with
        ``default_min_count``: 1 when a sentence contains ``<unk>`` (a closed vocabulary such
        as Penn Treebank's, which must not lose its rare words), else 2. The cutoff used is
        ``vocab.min_count``. The specials are never counted as words.

        >>> Vocab.build([["a", "b", "a"], ["a", "c"]]).words        # no <unk>: min_count 2
        ['a']
        >>> Vocab.build([["a", "b", "a"], ["<unk>", "c"]]).words    # <unk>: closed, min_count 1
        ['a', 'b', 'c']
        """
        if min_count is not None and min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(chain.from_iterable(sentences))   # the real train split: 868,597 tokens
        if min_count is None:
            min_count = default_min_count(counts[UNK] > 0)
        for special in SPECIALS:
            counts.pop(special, None)
        words = sorted((w for w, c in counts.items() if c >= min_count),
                       key=lambda w: (-counts[w], w))
        return cls(words, counts={w: counts[w] for w in words}, min_count=min_count)

    # -- lookups ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; unknown tokens map to ``<unk>``."""
        return self.stoi.get(token, self.unk_id)

    def __repr__(self) -> str:
        return f"Vocab({len(self.words)} words + {len(SPECIALS)} specials, min_count={self.min_count})"

    @property
    def words(self) -> list[str]:
        """The vocabulary words, specials excluded."""
        return self.itos[len(SPECIALS):]

    def token(self, idx: int) -> str:
        return self.itos[idx]

    def lookup(self, token: str) -> str:
        """``token`` itself if it is in the vocabulary, else ``'<unk>'``."""
        return token if token in self.stoi else UNK

    def map_unk(self, sentence: Sequence[str]) -> list[str]:
        """A copy of ``sentence`` with out-of-vocabulary tokens replaced by ``<unk>``."""
        return [self.lookup(t) for t in sentence]

    def encode(self, sentence: Sequence[str]) -> list[int]:
        """The ids of ``sentence``, unknown tokens as ``<unk>`` (the real splits encode a
        million tokens: one dict lookup each, no method call)."""
        get, unk = self.stoi.get, self.unk_id
        return [get(t, unk) for t in sentence]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def encode_padded(self, sentence: Sequence[str], n_bos: int = 1) -> list[int]:
        """``n_bos`` ``<s>`` ids, the sentence's ids, one ``</s>`` id (KenLM's padding)."""
        return [self.bos_id] * n_bos + self.encode(sentence) + [self.eos_id]

    # -- the prediction space --------------------------------------------------------------
    @property
    def prediction_ids(self) -> np.ndarray:
        """Ids a model may predict: every id except ``<s>``. Shape (len(self) - 1,)."""
        ids = np.arange(len(self.itos))
        return ids[ids != self.bos_id]

    @property
    def prediction_size(self) -> int:
        """Size of the prediction space: ``len(vocab) - 1`` (no ``<s>``)."""
        return len(self.itos) - 1

    def prediction_words(self) -> list[str]:
        return [w for w in self.itos if w != BOS]
