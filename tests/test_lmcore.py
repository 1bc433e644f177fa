"""Tests of the shared library lmcore, with values worked out by hand on a tiny corpus.

The corpus (three sentences) and what follows from it at min_count=2:
    counts: the 2, cat 2, sat 2, dog 1, down 1, a 1, ran 1
    ids:    <unk> 0, <s> 1, </s> 2, then by decreasing count, ties alphabetical:
            cat 3, sat 4, the 5 (dog, down, a, ran are <unk>)
"""
from __future__ import annotations

import doctest
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from lmcore import batching, corpus, gradcheck, lm, metrics, plotting, vocab
from lmcore.batching import IGNORE, bptt_batches, n_chunks, n_predicted, stream, window_pairs
from lmcore.corpus import CorpusError, load_text, tokenize
from lmcore.lm import UniformLM
from lmcore.gradcheck import (check_gradients, grad_report, numerical_gradient,
                              numerical_gradient_array, rel_error)
from lmcore.vocab import Vocab

REPO = Path(__file__).resolve().parents[1]
CORPUS = [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat", "ran"]]
UNK, BOS, EOS, CAT, SAT, THE = 0, 1, 2, 3, 4, 5


@pytest.fixture
def v() -> Vocab:
    return Vocab.build(CORPUS, min_count=2)


def test_doctests():
    for module in (vocab, corpus, batching, gradcheck, metrics):
        result = doctest.testmod(module)
        assert result.failed == 0, f"{module.__name__}: {result.failed} doctest(s) failed"


# -- vocab ---------------------------------------------------------------------------------
def test_vocab_ids_and_counts(v):
    assert v.itos == ["<unk>", "<s>", "</s>", "cat", "sat", "the"]
    assert v.words == ["cat", "sat", "the"]
    assert v.counts == {"cat": 2, "sat": 2, "the": 2}
    assert (v.unk_id, v.bos_id, v.eos_id) == (UNK, BOS, EOS)
    assert v["the"] == THE and v["dog"] == UNK and "dog" not in v and "cat" in v
    # decreasing count first, then alphabetical
    assert Vocab.build(CORPUS, min_count=1).words == ["cat", "sat", "the", "a", "dog", "down",
                                                      "ran"]


def test_vocab_unk_mapping_and_encodings(v):
    sentence = ["the", "dog", "sat", "down"]
    assert v.map_unk(sentence) == ["the", "<unk>", "sat", "<unk>"]
    assert sentence == ["the", "dog", "sat", "down"]   # not modified
    assert v.encode(sentence) == [THE, UNK, SAT, UNK]
    assert v.decode(np.array([THE, UNK, EOS])) == ["the", "<unk>", "</s>"]
    assert v.encode_padded(["the", "cat", "sat"]) == [BOS, THE, CAT, SAT, EOS]
    assert v.encode_padded(["a", "cat"], n_bos=2) == [BOS, BOS, UNK, CAT, EOS]
    assert v.encode_padded([], n_bos=3) == [BOS, BOS, BOS, EOS]


def test_vocab_prediction_space_excludes_bos(v):
    assert v.prediction_ids.tolist() == [UNK, EOS, CAT, SAT, THE]
    assert v.prediction_size == 5 == len(v) - 1
    assert v.prediction_words() == ["<unk>", "</s>", "cat", "sat", "the"]


def test_vocab_rejects_bad_input():
    with pytest.raises(ValueError, match="reserved"):
        Vocab(["a", "<s>"])
    with pytest.raises(ValueError, match="unique"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build(CORPUS, min_count=0)
    # specials in the text are never counted as words
    assert Vocab.build([["<s>", "x", "x", "</s>"]], min_count=1).words == ["x"]


# -- corpus --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, tokens", [
    ("'Tis", ["'tis"]),
    ("O'er-leap", ["o'er", "-", "leap"]),
    ("don't", ["don't"]),
    ("I'll ne'er", ["i'll", "ne'er"]),
    ("the kings' crowns", ["the", "kings", "'", "crowns"]),
    ("Act 3, in 1599.", ["act", "3", ",", "in", "1", "5", "9", "9", "."]),
    ("What, ho!--Ay?", ["what", ",", "ho", "!", "-", "-", "ay", "?"]),
    ("  \t ", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_dialogue_lines_keeps_only_speech():
    text = ("# Hamlet\n\n## ACT I\n**BERNARDO**\nWho's there?\n_Enter Francisco_\n"
            "_\\[Aside]_\n  Nay, answer me.  \n\n_\n")
    assert corpus.dialogue_lines(text) == ["Who's there?", "Nay, answer me.", "_"]


def test_load_text(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("The cat  sat\n\n<unk> ran .\n", encoding="utf-8")
    assert load_text(path) == [["The", "cat", "sat"], ["<unk>", "ran", "."]]
    assert load_text(str(path), lowercase=True)[0] == ["the", "cat", "sat"]


def test_load_text_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(CorpusError, match=r"missing\.txt: no such file"):
        load_text(missing)
    with pytest.raises(CorpusError, match="is a folder"):
        load_text(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(CorpusError, match=r"empty\.txt: the file is empty"):
        load_text(empty)
    empty.write_text("\n  \n\t\n")
    with pytest.raises(CorpusError, match="empty"):
        load_text(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("first line\ncaf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError) as err:
        load_text(latin)
    message = str(err.value)
    assert str(latin) in message and "line 2" in message and "0xe9" in message, message
    assert isinstance(err.value, ValueError)


def test_shakespeare_splits_match_published_counts():
    """docs/design.md: train 94,007 / 868,597; valid 7,709 / 70,635; test 9,579 / 87,825;
    14,337 vocabulary words at min_count 2 (14,339 predicted types)."""
    card = {r["split"]: r for r in corpus.corpus_card()}   # default cutoff: no <unk>, so 2
    got = {s: (card[s]["plays"], card[s]["sentences"], card[s]["tokens"]) for s in card}
    assert got == {"train": (32, 94_007, 868_597), "valid": (3, 7_709, 70_635),
                   "test": (3, 9_579, 87_825)}
    assert card["train"]["vocab"] == 14_337 and card["train"]["V"] == 14_339
    assert card["train"]["min_count"] == 2 and not card["train"]["has_unk"]
    train = corpus.load_shakespeare("train")
    assert Vocab.build(train, min_count=2).prediction_size == 14_339
    assert corpus.split_plays("test") == ["hamlet", "the-tempest", "henry-v"]
    assert set(corpus.split_plays("train")).isdisjoint(
        corpus.split_plays("valid") + corpus.split_plays("test"))
    hamlet = corpus.load_shakespeare("test")
    assert all(s and all(t == t.lower() for t in s) for s in hamlet[:500])
    hamlet[0].append("MUTATED")   # the caller gets a copy: the cache is untouched
    assert corpus.load_shakespeare("test")[0][-1] != "MUTATED"
    with pytest.raises(ValueError, match="unknown split"):
        corpus.split_plays("dev")


def test_corpus_module_prints_the_card():
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "lmcore.corpus"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for figure in ("94,007", "868,597", "7,709", "70,635", "9,579", "87,825", "14,337",
                   "14,339", "min_count=2"):
        assert figure in out.stdout, f"{figure} missing from:\n{out.stdout}"


# -- batching ------------------------------------------------------------------------------
# The stream of CORPUS: <s> the cat sat </s> the <unk> sat <unk> </s> <unk> cat <unk> </s>
STREAM = [BOS, THE, CAT, SAT, EOS, THE, UNK, SAT, UNK, EOS, UNK, CAT, UNK, EOS]


def test_stream(v):
    ids = stream(CORPUS, v)
    assert ids.dtype == np.int64 and ids.tolist() == STREAM
    # every word and every </s> is predicted once, <s> never: the n-gram count
    assert n_predicted(ids) == 13 == sum(len(s) + 1 for s in CORPUS)
    assert stream([], v).tolist() == [BOS] and n_predicted(stream([], v)) == 0


def test_bptt_batches_by_hand(v):
    # 13 predicted tokens in N=2 rows of L=ceil(13/2)=7: row 0 reads positions 0..6 and
    # predicts 1..7; row 1 reads 7..13 and predicts 8..14, where 14 is past the end.
    chunks = list(bptt_batches(stream(CORPUS, v), N=2, T=3))
    expected = [
        ([[BOS, THE, CAT], [SAT, UNK, EOS]], [[THE, CAT, SAT], [UNK, EOS, UNK]]),
        ([[SAT, EOS, THE], [UNK, CAT, UNK]], [[EOS, THE, UNK], [CAT, UNK, EOS]]),
        ([[UNK], [EOS]], [[SAT], [IGNORE]]),   # the shorter last chunk, one padded target
    ]
    assert len(chunks) == len(expected) == n_chunks(stream(CORPUS, v), 2, 3)
    for (x, y), (ex, ey) in zip(chunks, expected):
        assert x.dtype == y.dtype == np.int64
        assert x.tolist() == ex and y.tolist() == ey


@pytest.mark.parametrize("S, N, T", [(14, 2, 3), (14, 13, 1), (14, 1, 100), (101, 4, 5),
                                     (101, 7, 3), (11, 4, 2), (30, 10, 4)])
def test_bptt_batches_predict_each_token_once(S, N, T):
    ids = np.random.default_rng(S + N + T).integers(0, 50, size=S)
    before = ids.copy()
    chunks = list(bptt_batches(ids, N, T))
    assert np.array_equal(ids, before)
    assert len(chunks) == n_chunks(ids, N, T)
    x = np.concatenate([c[0] for c in chunks], axis=1)   # (N, L): the rows, whole
    y = np.concatenate([c[1] for c in chunks], axis=1)
    assert all(c[0].shape == c[1].shape == (N, min(T, x.shape[1] - i * T))
               for i, c in enumerate(chunks))
    mask = y != IGNORE
    assert mask.sum() == n_predicted(ids) == S - 1
    # reading the rows one after another gives back the stream: nothing dropped or repeated
    assert np.array_equal(y[mask], ids[1:]) and np.array_equal(x.ravel()[:S - 1], ids[:-1])
    # y is x shifted by one within a row (the hidden state is carried along the row)
    assert np.array_equal(y[:, :-1][mask[:, :-1]], x[:, 1:][mask[:, :-1]])
    # padding only at the end of the stream: once a row's targets stop, they stay stopped
    assert all(np.all(np.diff(row.astype(int)) <= 0) for row in mask)


def test_bptt_batches_errors():
    with pytest.raises(ValueError, match="fewer than the N=5"):
        list(bptt_batches(np.arange(5), N=5, T=2))
    with pytest.raises(ValueError, match="1-D"):
        list(bptt_batches(np.zeros((2, 3), dtype=int), N=1, T=2))
    with pytest.raises(ValueError, match=">= 1"):
        list(bptt_batches(np.arange(9), N=2, T=0))


def test_window_pairs_by_hand(v):
    contexts, targets = window_pairs(CORPUS, v, n_context=2)
    assert contexts.dtype == targets.dtype == np.int64
    assert contexts.tolist() == [
        [BOS, BOS], [BOS, THE], [THE, CAT], [CAT, SAT],                # the cat sat </s>
        [BOS, BOS], [BOS, THE], [THE, UNK], [UNK, SAT], [SAT, UNK],    # the dog sat down </s>
        [BOS, BOS], [BOS, UNK], [UNK, CAT], [CAT, UNK],                # a cat ran </s>
    ]
    assert targets.tolist() == [THE, CAT, SAT, EOS, THE, UNK, SAT, UNK, EOS,
                                UNK, CAT, UNK, EOS]
    c1, t1 = window_pairs(CORPUS, v, n_context=1)
    assert c1.shape == (13, 1) and np.array_equal(t1, targets)
    assert np.array_equal(c1[:, 0], contexts[:, 1])
    c0, t0 = window_pairs(CORPUS, v, n_context=0)
    assert c0.shape == (13, 0) and np.array_equal(t0, targets)
    ce, te = window_pairs([[], ["cat"]], v, n_context=3)
    assert ce.tolist() == [[BOS] * 3, [BOS] * 3, [BOS, BOS, CAT]] and te.tolist() == [EOS, CAT, EOS]
    assert window_pairs([], v, 2)[0].shape == (0, 2)
    with pytest.raises(ValueError, match="n_context"):
        window_pairs(CORPUS, v, -1)


# -- gradcheck -----------------------------------------------------------------------------
def test_numerical_gradient_known_derivatives():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda z: np.sum(np.sin(z) * z), x)
    assert np.array_equal(x, before)   # restored exactly
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-8
    W = rng.standard_normal((4, 2))
    dout = rng.standard_normal((3, 2))
    dx = numerical_gradient_array(lambda z: z @ W, x, dout)
    assert rel_error(dx, dout @ W.T) < 1e-8 and np.array_equal(x, before)
    s = np.array(2.0)
    assert rel_error(numerical_gradient(lambda z: float(z) ** 3, s), 12.0) < 1e-8


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])
    calls = []

    def f(z):
        calls.append(z.copy())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert x.tolist() == [1.0, 2.0] and calls[0].tolist() == [1.0 + 1e-5, 2.0]


def test_numerical_gradient_rejects_misuse():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda z: z.sum(), np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda z: z * 2, np.ones(3))
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_gradient_array(lambda z: z * 2, np.ones(3), np.ones(4))


def test_rel_error():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0, 3.0], [1.0, 1.0]) == pytest.approx(0.5)   # |3-1| / (3+1)
    assert rel_error([0.0], [1e-12]) == pytest.approx(1e-4)          # floor of 1e-8
    assert rel_error([np.nan], [1.0]) == math.inf
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.ones(2), np.ones(3))


def test_grad_report_names_the_worst_entry():
    Wh = np.array([[0.5, -1.0], [2.0, 3.0], [0.1, 0.35]])
    numeric = numerical_gradient(lambda z: np.sum(z ** 2) / 2, Wh.copy())   # d/dz = z
    wrong = Wh.copy()
    wrong[2, 1] = 0.12
    report = grad_report(wrong, numeric, name="dWh")
    assert report.index == (2, 1)
    assert report.max_rel_error == pytest.approx(0.23 / 0.47)
    assert report.analytic == 0.12 and report.numerical == pytest.approx(0.35)
    assert str(report) == ("dWh: max relative error 4.9e-01 at [2, 1] "
                           "(analytic 0.12, numerical 0.35)")
    assert not report.ok(1e-7) and report.ok(0.5)
    good = grad_report(Wh, numeric, name="dWh")
    assert good.ok(1e-7)
    assert "at the scalar" in str(grad_report(1.0, 2.0, name="db"))
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*shape \(2,\)"):
        grad_report(Wh, np.ones(2))


def test_check_gradients_catches_a_wrong_gradient():
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    x = rng.standard_normal((4, 3))
    params = {"W": W, "b": b}
    saved = {k: p.copy() for k, p in params.items()}

    def loss():
        return float(np.sum(np.tanh(x @ W + b)))

    dz = 1 - np.tanh(x @ W + b) ** 2
    reports = check_gradients(loss, params, {"W": x.T @ dz, "b": dz.sum(axis=0)}, tol=1e-7)
    assert set(reports) == {"W", "b"} and all(r.ok(1e-7) for r in reports.values())
    assert all(np.array_equal(params[k], saved[k]) for k in params)
    wrong_db = dz.sum(axis=0).copy()
    wrong_db[1] *= 2
    with pytest.raises(AssertionError, match=r"db: max relative error .* at \[1\]") as err:
        check_gradients(loss, params, {"W": x.T @ dz, "b": wrong_db}, tol=1e-7)
    assert "dW:" not in str(err.value)
    reports = check_gradients(loss, params, {"W": x.T @ dz, "b": wrong_db}, tol=1e-7,
                              raise_on_failure=False)
    assert reports["b"].index == (1,) and not reports["b"].ok(1e-7)
    with pytest.raises(KeyError, match="b"):
        check_gradients(loss, params, {"W": x.T @ dz})


# -- metrics -------------------------------------------------------------------------------
def test_metrics_known_values():
    lp = np.log([0.5, 0.25, 0.125])   # mean ln p = -2 ln 2
    assert metrics.cross_entropy(lp) == pytest.approx(2 * math.log(2))
    assert metrics.bits_per_token(lp) == pytest.approx(2.0)
    assert metrics.perplexity(lp) == pytest.approx(4.0)
    assert metrics.perplexity([math.log(1 / 7)] * 5) == pytest.approx(7.0)
    assert metrics.perplexity(np.zeros((2, 3))) == 1.0


def test_metrics_zero_probability_is_inf_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # any RuntimeWarning would fail the test
        lp = np.log(np.array([0.5, 0.0, 0.25]), where=[True, False, True],
                    out=np.full(3, -np.inf))
        assert metrics.perplexity(lp) == math.inf
        assert metrics.cross_entropy(lp) == math.inf
        assert metrics.perplexity([-800.0]) == math.inf   # exp overflows, no error


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="no log-probabilities"):
        metrics.perplexity([])
    with pytest.raises(ValueError, match="NaN"):
        metrics.perplexity([-1.0, np.nan])
    with pytest.raises(ValueError, match="pass ln p, not p"):
        metrics.perplexity([0.5, 0.25])


# -- lm: perplexity and generate through the one interface ---------------------------------
class ScriptLM:
    """Always says "the cat sat" and then </s>, with probability one."""

    SCRIPT = ["the", "cat", "sat", "</s>"]

    def __init__(self, vocab):
        self.vocab = vocab

    def next_distribution(self, context):
        p = np.zeros(len(self.vocab))
        p[self.vocab[self.SCRIPT[min(len(context), 3)]]] = 1.0
        return p

    def logprobs(self, sentences):
        out = []
        for s in sentences:
            for i, token in enumerate(self.vocab.map_unk(s) + ["</s>"]):
                p = self.next_distribution(s[:i])[self.vocab[token]]
                out.append(math.log(p) if p > 0 else -math.inf)
        return np.array(out)


def test_lm_perplexity_on_fake_models(v):
    assert isinstance(UniformLM(v), lm.LanguageModel)
    assert lm.perplexity(UniformLM(v), CORPUS) == pytest.approx(5.0)   # 5 predicted ids
    script = ScriptLM(v)
    assert lm.perplexity(script, [["the", "cat", "sat"]]) == 1.0
    assert lm.perplexity(script, CORPUS) == math.inf


def test_lm_perplexity_checks_the_shape(v):
    class Short(UniformLM):
        def logprobs(self, sentences):
            return super().logprobs(sentences)[:-1]   # forgot </s>

    with pytest.raises(ValueError, match=r"shape \(12,\); expected \(13,\)"):
        lm.perplexity(Short(v), CORPUS)


def test_lm_generate(v):
    assert lm.generate(ScriptLM(v), np.random.default_rng(0)) == ["the", "cat", "sat"]
    assert lm.generate(ScriptLM(v), np.random.default_rng(0), max_tokens=2) == ["the", "cat"]
    uniform = UniformLM(v)
    a = lm.generate(uniform, np.random.default_rng(7), max_tokens=50)
    b = lm.generate(uniform, np.random.default_rng(7), max_tokens=50)
    assert a == b and len(a) <= 50
    assert all(t in v.prediction_words() and t not in ("<s>", "</s>") for t in a)
    runs = [lm.generate(uniform, np.random.default_rng(seed), max_tokens=50)
            for seed in range(20)]
    assert len({tuple(r) for r in runs}) > 1   # the rng matters
    prompt = ["the"]
    assert lm.generate(ScriptLM(v), np.random.default_rng(0), prompt=prompt) == \
        ["the", "cat", "sat"] and prompt == ["the"]



def test_sampling_distribution_temperature_is_softmax_of_scaled_logits():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal(7) * 2.0
    p = np.exp(logits - logits.max())
    p /= p.sum()
    for t in (0.3, 0.8, 1.0, 2.5):
        z = logits / t
        want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(lm.sampling_distribution(p, t), want, rtol=1e-12)
    # an unnormalised input gives the same distribution; p == 0 stays 0 at any temperature
    p0 = np.array([0.0, 2.0, 1.0, 1.0])
    for t in (0.5, 1.0, 3.0):
        q = lm.sampling_distribution(p0, t)
        assert q[0] == 0.0 and q.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(lm.sampling_distribution(p0), [0, 0.5, 0.25, 0.25])
    # a small temperature does not underflow to 0/0
    q = lm.sampling_distribution(np.array([1e-40, 2e-40, 0.5]), 0.01)
    assert np.isfinite(q).all() and q[2] == pytest.approx(1.0)


def test_sampling_distribution_greedy_and_top_k():
    p = np.array([0.1, 0.0, 0.3, 0.3, 0.2, 0.1])
    np.testing.assert_array_equal(lm.sampling_distribution(p, 0.0), [0, 0, 1, 0, 0, 0])  # first max
    np.testing.assert_allclose(lm.sampling_distribution(p, top_k=1), [0, 0, 0.5, 0.5, 0, 0])  # tie kept
    np.testing.assert_allclose(lm.sampling_distribution(p, top_k=3), [0, 0, 3 / 8, 3 / 8, 2 / 8, 0])
    np.testing.assert_allclose(lm.sampling_distribution(p, top_k=4), p)   # both 0.1 tie at the 4th
    np.testing.assert_allclose(lm.sampling_distribution(p, top_k=100), p)
    # top-k then temperature: the two kept tokens, sharpened
    np.testing.assert_allclose(lm.sampling_distribution(np.array([0.5, 0.3, 0.2]), 0.5, top_k=2),
                               np.array([0.25, 0.09, 0.0]) / 0.34)
    for bad in (dict(temperature=-1.0), dict(top_k=0)):
        with pytest.raises(ValueError):
            lm.sampling_distribution(p, **bad)
    for bad_p in (np.zeros(3), np.array([0.5, np.nan, 0.5]), np.array([1.0, -0.1]), np.ones((2, 2))):
        with pytest.raises(ValueError, match="next_distribution must return"):
            lm.sampling_distribution(bad_p)


def test_lm_generate_temperature_and_top_k(v):
    uniform = UniformLM(v)
    # greedy on a tie takes the first most likely id; top_k=1 on a uniform model keeps all
    greedy = lm.generate(uniform, np.random.default_rng(0), max_tokens=5, temperature=0.0)
    assert greedy == [v.token(int(np.argmax(uniform.next_distribution([]))))] * 5
    # the draws follow the reshaped distribution: a skewed model sampled hot and cold
    class Skewed(UniformLM):
        P = None

        def next_distribution(self, context):
            return self.P

    m = Skewed(v)
    m.P = np.zeros(len(v))
    words = [v[w] for w in ("the", "cat", "sat")]
    m.P[words] = [0.6, 0.3, 0.1]
    rng = np.random.default_rng(11)
    n = 4000
    for t, k in ((1.0, None), (0.5, None), (2.0, None), (1.0, 2)):
        want = lm.sampling_distribution(m.P, t, k)
        first = [lm.generate(m, rng, max_tokens=1, temperature=t, top_k=k)[0] for _ in range(n)]
        got = np.array([first.count(v.token(i)) for i in range(len(v))]) / n
        assert np.abs(got - want).max() < 0.04, (t, k, got, want)   # ~5 standard errors
        assert (got[want == 0] == 0).all()
    # the positional signature of a1's helper still works
    assert lm.generate(ScriptLM(v), np.random.default_rng(0), 2, ["the"]) == ["the", "cat", "sat"]

# -- plotting ------------------------------------------------------------------------------
def test_plots_write_png(tmp_path):
    path = plotting.plot_curves({"rnn": ([0, 1, 2], [3.0, 2.0, 1.5]), "lstm": ([0, 2], [3, 1])},
                                tmp_path / "sub" / "loss.png", title="loss", xlabel="step",
                                ylabel="nats", logy=True)
    assert path == tmp_path / "sub" / "loss.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bars = plotting.plot_bars({"bigram": 687.6, "KN trigram": 154.3}, tmp_path / "ppl.png",
                              title="test perplexity", ylabel="perplexity", logy=True)
    assert bars.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="3 steps but 2 values"):
        plotting.plot_curves({"x": ([0, 1, 2], [1, 2])}, tmp_path / "bad.png")
