"""Plain-text corpora that would load wrong must not load silently (lmcore.corpus.load_text).

Every case writes its own small file: padded lines (<s> ... </s>), byte-order marks, control
characters, UTF-16/UTF-32, archives, binary files, Latin-1 and Windows-1252, and a corpus
that already has <unk> (Penn Treebank's format), whose closed vocabulary must stay whole.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import tarfile
import zipfile

import pytest

from lmcore import corpus
from lmcore.corpus import CorpusError, load_text, text_corpus_card
from lmcore.vocab import Vocab, default_min_count


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def refused(path, **kwargs) -> str:
    with pytest.raises(CorpusError) as err:
        load_text(path, **kwargs)
    message = str(err.value)
    assert str(path) in message, message
    return message


# -- <s> and </s> in the text -------------------------------------------------------------
@pytest.mark.parametrize("text, line, token", [
    ("<s> the cat sat </s>\n", 1, "<s>"),          # the pre-processed (KenLM-padded) format
    ("the cat\nthe dog sat </s>\n", 2, "</s>"),    # only the end marked
    ("a b\n\nc <s> d\n", 3, "<s>"),               # blank lines still count as lines
])
def test_reserved_tokens_are_refused(tmp_path, text, line, token):
    message = refused(write(tmp_path, "padded.txt", text))
    assert f"line {line}" in message and repr(token) in message, message
    assert "strip_padding=True" in message and "reserved" in message, message


def test_reserved_tokens_are_refused_after_lowercasing(tmp_path):
    path = write(tmp_path, "upper.txt", "<S> The cat </S>\n")
    assert load_text(path) == [["<S>", "The", "cat", "</S>"]]   # not reserved as written
    assert "'<s>'" in refused(path, lowercase=True)


def test_strip_padding_removes_only_the_padding(tmp_path):
    path = write(tmp_path, "padded.txt",
                 "<s> the cat sat </s>\n<s> <s> a dog </s>\n<s> </s>\nno padding here\n")
    assert load_text(path, strip_padding=True) == [
        ["the", "cat", "sat"], ["a", "dog"], ["no", "padding", "here"]]
    plain = write(tmp_path, "plain.txt", "the cat sat\na dog\nno padding here\n")
    assert load_text(path, strip_padding=True) == load_text(plain)
    # the vocabulary is the same as the unpadded file's: </s> is predicted once per sentence
    # and <s> is context only, so no prediction space loses mass to them
    assert Vocab.build(load_text(path, strip_padding=True)).itos == \
        Vocab.build(load_text(plain)).itos


def test_strip_padding_refuses_a_reserved_token_inside_a_sentence(tmp_path):
    path = write(tmp_path, "two.txt", "<s> one sentence </s>\n<s> a b </s> <s> c d </s>\n")
    message = refused(path, strip_padding=True)
    assert "line 2" in message and "'</s>' (token 4)" in message, message
    assert "inside the sentence" in message and "one sentence per line" in message, message


# -- byte-order marks and control characters ----------------------------------------------
def test_a_utf8_bom_is_stripped(tmp_path):
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfthe cat\nthe dog\n")
    assert load_text(path) == [["the", "cat"], ["the", "dog"]]
    assert Vocab.build(load_text(path), min_count=2).words == ["the"]   # not "\ufeffthe"


def test_a_bom_inside_the_file_is_refused(tmp_path):
    path = write(tmp_path, "joined.txt", b"\xef\xbb\xbfthe cat\n\xef\xbb\xbfthe dog\n")
    message = refused(path)
    assert "line 2, column 1" in message and "U+FEFF" in message, message


@pytest.mark.parametrize("data, line, column, name", [
    (b"the cat\nthe\x00dog\n", 2, 4, "NUL"),
    (b"a\x00\n", 1, 2, "NUL"),
    (b"ok\nok\nan \x1b[31mescape\n", 3, 4, "U+001B"),
    (b"page\x0cbreak\n", 1, 5, "U+000C"),
])
def test_control_characters_are_refused_with_line_and_column(tmp_path, data, line, column,
                                                             name):
    message = refused(write(tmp_path, "ctl.txt", data))
    assert f"line {line}, column {column}" in message and name in message, message
    assert "remove them" in message, message


def test_a_c1_control_points_to_cp1252(tmp_path):
    # a Windows-1252 curly quote converted as if it were Latin-1 becomes U+0093
    path = write(tmp_path, "c1.txt", "he said \u0093hi\u0094\n")
    message = refused(path)
    assert "line 1, column 9" in message and "U+0093" in message and "cp1252" in message


def test_tabs_and_non_ascii_text_load(tmp_path):
    path = write(tmp_path, "ok.txt", "caf\u00e9\tna\u00efve  \u00fcber\n")
    assert load_text(path) == [["caf\u00e9", "na\u00efve", "\u00fcber"]]


# -- what the bytes are: UTF-16, archives, binary, Latin-1 ---------------------------------
@pytest.mark.parametrize("encoding, name", [
    ("utf-16", "utf-16"),         # Python writes a BOM (little-endian here)
    ("utf-16-be-bom", "utf-16"),
    ("utf-16-le", "utf-16le"),    # no BOM: the byte order must be named
    ("utf-16-be", "utf-16be"),
    ("utf-32", "utf-32"),
])
def test_utf16_and_utf32_get_an_iconv_hint(tmp_path, encoding, name):
    text = "the cat sat\nthe dog\n"
    data = (b"\xfe\xff" + text.encode("utf-16-be") if encoding == "utf-16-be-bom"
            else text.encode(encoding))
    message = refused(write(tmp_path, "wide.txt", data))
    assert f"iconv -f {name} -t utf-8" in message, message
    assert "latin1" not in message, message


def _zip(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("wiki.train.tokens", text)
    return buffer.getvalue()


def _tar(text):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as t:
        data = text.encode()
        info = tarfile.TarInfo("ptb.train.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("make, what, how", [
    (_zip, "zip archive", "unzip"),
    (lambda t: gzip.compress(t.encode()), "gzip", "tar -xzf"),
    (lambda t: bz2.compress(t.encode()), "bzip2", "bunzip2"),
    (lambda t: lzma.compress(t.encode()), "xz", "unxz"),
    (_tar, "tar archive", "tar -xf"),
])
def test_an_archive_is_named_as_one(tmp_path, make, what, how):
    message = refused(write(tmp_path, "corpus.bin", make("the cat sat\n" * 50)))
    assert what in message and "extract it first" in message and how in message, message
    assert "iconv" not in message, message


@pytest.mark.parametrize("data, what", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG image"),
    (b"PAR1" + bytes(64) + b"PAR1", "Parquet"),
    (random.Random(0).randbytes(2000), "does not look like text"),
])
def test_binary_files_are_not_text(tmp_path, data, what):
    message = refused(write(tmp_path, "data.bin", data))
    assert what in message and "not" in message and "latin1" not in message, message


def test_latin1_and_cp1252_get_the_fitting_hint(tmp_path):
    latin = write(tmp_path, "latin.txt", "first line\ncaf\u00e9 au lait\n".encode("latin-1"))
    message = refused(latin)
    assert "line 2" in message and "0xe9" in message and "iconv -f latin1" in message, message
    windows = write(tmp_path, "win.txt", "he said \u201chi\u201d\n".encode("cp1252"))
    message = refused(windows)
    assert "line 1" in message and "0x93" in message and "iconv -f cp1252" in message, message


@pytest.mark.parametrize("text", [
    "BZh is how bzip2 files start\n",
    "PAR1 is how Parquet files start\n",
    "x " * 128 + "custard and more\n",       # "ustar" where a tar header has its magic
    "\u00e9t\u00e9 \u00e0 l'\u00e9cole\n" * 40,   # accented text has no NUL bytes at all
])
def test_text_that_looks_like_a_signature_still_loads(tmp_path, text):
    assert load_text(write(tmp_path, "lookalike.txt", text))


# -- a corpus with <unk>: the closed vocabulary --------------------------------------------
def test_vocab_default_cutoff_follows_unk():
    assert (default_min_count(True), default_min_count(False)) == (1, 2)
    closed = [["a", "b", "<unk>"], ["a", "c"]]
    assert Vocab.build(closed).min_count == 1
    assert Vocab.build(closed).words == ["a", "b", "c"]
    assert Vocab.build(iter(closed)).words == ["a", "b", "c"]    # one pass over a generator
    assert Vocab.build(closed, min_count=2).words == ["a"]       # told otherwise
    open_ = [["a", "b"], ["a", "c"]]
    assert Vocab.build(open_).min_count == 2 and Vocab.build(open_).words == ["a"]


def _ptb_like(tmp_path, n_types=9_999, n_once=30):
    """Train/valid/test files in Penn Treebank's format: lowercase, numbers as N, <unk> in
    the text, and ``n_types`` word types in train, <unk> among them; ``n_once`` of them are
    seen once in train (real PTB has such words, which min_count 2 would lose)."""
    rng = random.Random(7)
    words = ["<unk>", "N"] + [f"w{i:04d}" for i in range(n_types - 2)]
    once, often = words[-n_once:], words[:-n_once]
    tokens = once + often * 2 + [rng.choice(often[:50]) for _ in range(5_000)]
    rng.shuffle(tokens)

    def lines(toks):
        at, out = 0, []
        while at < len(toks):
            n = rng.randint(5, 25)
            out.append(" " + " ".join(toks[at:at + n]) + " ")   # PTB's lines are space-padded
            at += n
        return "\n".join(out) + "\n"

    train = write(tmp_path, "ptb.train.txt", lines(tokens))
    valid = write(tmp_path, "ptb.valid.txt", lines([rng.choice(words) for _ in range(3_000)]))
    test = write(tmp_path, "ptb.test.txt", lines(once + [rng.choice(words) for _ in range(3_000)]))
    return train, valid, test


def test_ptb_format_card_reports_the_published_vocabulary(tmp_path):
    """Penn Treebank's published |V| = 10,000 counts <unk> and the end-of-sentence marker:
    its files hold 9,999 word types, <unk> among them. The card's |V| is the same count, the
    kit's prediction space (words + <unk> + </s>)."""
    files = _ptb_like(tmp_path)
    rows = {r["split"]: r for r in text_corpus_card(files)}
    train = rows["ptb.train.txt"]
    assert train["types"] == 9_999 and train["min_count"] == 1 and train["has_unk"]
    assert train["vocab"] == 9_998                # the words; <unk> is one of the specials
    assert {r["V"] for r in rows.values()} == {10_000}
    assert {r["oov_rate"] for r in rows.values()} == {0.0}   # closed: nothing new goes to <unk>
    assert "min_count=1" in corpus.cutoff_note(train) and "closed" in corpus.cutoff_note(train)
    # min_count 2, the default of a corpus without <unk>, would silently drop the 30 words
    # seen once in train, moving every perplexity: it is now only used when asked for
    cut = {r["split"]: r for r in text_corpus_card(files, min_count=2)}
    assert cut["ptb.train.txt"]["V"] == 10_000 - 30 and cut["ptb.test.txt"]["oov_rate"] > 0
    assert "published" in corpus.cutoff_note(cut["ptb.train.txt"])


def test_card_vocabulary_size_counts_types_plus_end_marker(tmp_path):
    # a file with 10,000 types, <unk> among them, has a prediction space of 10,001
    train, _, _ = _ptb_like(tmp_path, n_types=10_000)
    [row] = text_corpus_card([train])
    assert (row["types"], row["vocab"], row["V"]) == (10_000, 9_999, 10_001)


def test_corpus_module_prints_a_text_corpus_card(tmp_path, capsys):
    files = _ptb_like(tmp_path)
    assert corpus.main([str(f) for f in files]) == 0
    out = capsys.readouterr().out
    for figure in ("ptb.train.txt", "ptb.test.txt", "9,999", "10,000", "min_count=1", "|V|"):
        assert figure in out, f"{figure} missing from:\n{out}"
    assert corpus.main([str(files[0]), "--min-count", "2"]) == 0
    assert "9,970" in capsys.readouterr().out
    padded = write(tmp_path, "padded.txt", "<s> a b </s>\n")
    assert corpus.main([str(padded)]) == 2
    err = capsys.readouterr().err
    assert "padded.txt, line 1" in err and "strip_padding" in err, err
    assert corpus.main([str(padded), "--strip-padding"]) == 0
