"""Assignment 1 (n-gram models): the reference, its suites, its examples and its notebook.

Every example's manifest is checked through the real sandboxed engine by tests/test_verify.py;
here each classic-bug example is graded in-process (tests/harness.py) on the one test its hint
belongs to, to check that the feedback names the bug.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.authoring import registry as asg
from harness import assert_checks_pass, assert_hint, run_notebook
from lmcore.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "a1_ngram"
A1 = asg.get("a1_ngram")


# -- examples: the classic bugs' feedback names them --------------------------------------------
HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "addk_no_v": ("addk.laplace", "k*|V|"),
    "bos_in_v": ("addk.laplace", "|V| + 1"),
    "kn_raw_counts": ("kn.continuation", "continuation counts"),
    "backoff_unnormalized": ("backoff.bigram", "alpha(h) = "),
    "interp_unnormalized": ("interp.fit", "do not sum to one"),
    "ppl_log2": ("perplexity.hand", "logarithm bases"),
    "ppl_no_eos": ("perplexity.hand", "without the </s>"),
    "logscore_log2": ("logscore.values", "in base 2"),
    "one_bos": ("pad.trigram", "n-1 <s>"),
    "mkn_single_discount": ("mkn.values", "its own D"),
    "dict_no_eos": ("dict.count_bigram", "end at </s> are missing"),
    "dict_bos_counted": ("dict.count_trigram", "(<s>,) and (<s>, <s>) have count 0"),
    "dict_kn_raw": ("dict.kn_bigram", "continuation counts"),
    "dict_addk_k_once": ("dict.addk", "grows by k once per word"),
}


@pytest.mark.parametrize("example", sorted(HINTS))
def test_bug_hints_name_the_bug(example, tmp_path):
    test_name, phrase = HINTS[example]
    assert_hint(A1, example, test_name, phrase, tmp_path)


# -- the reference itself -----------------------------------------------------------------------
sys.path.insert(0, str(SOLUTION.parent))
from a1_ngram import models as M  # noqa: E402
from a1_ngram.base import NgramIndex  # noqa: E402
from a1_ngram.counts import count_ngrams, ngrams, pad, table_size, unseen_rate  # noqa: E402
from a1_ngram.models import FALLBACK_DISCOUNTS, modified_discounts  # noqa: E402

SAM = [s.split() for s in ["i am sam", "sam i am", "i do not like green eggs and ham"]]


def _random_corpus(rng, n_sent=60, n_words=12, max_len=8):
    words = [f"w{i}" for i in range(n_words)]
    return [[words[int(i)] for i in rng.integers(0, n_words, size=int(rng.integers(0, max_len)))]
            for _ in range(n_sent)]


def _dict_counts(sentences, n, vocab):
    """Counter-based counts (the slow obvious way): order k -> {k-gram: count}, and contexts."""
    from collections import Counter
    grams = {k: Counter() for k in range(1, n + 1)}
    ctx = {k: Counter() for k in range(1, n + 1)}
    for s in sentences:
        toks = ["<s>"] * (n - 1) + vocab.map_unk(s) + ["</s>"]
        for i in range(n - 1, len(toks)):
            for k in range(1, n + 1):
                grams[k][tuple(toks[i - k + 1:i + 1])] += 1
                ctx[k][tuple(toks[i - k + 1:i])] += 1
    return grams, ctx


def test_pad_and_ngrams():
    assert pad(["i", "am"], 3) == ["<s>", "<s>", "i", "am", "</s>"]
    assert pad([], 1) == ["</s>"]
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []


def test_counts_match_a_counter_on_random_corpora():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5):
        sents = _random_corpus(rng)
        vocab = Vocab.build(sents, min_count=2)
        c = count_ngrams(sents, n, vocab)
        grams, ctx = _dict_counts(sents, n, vocab)
        for k in range(1, n + 1):
            assert int(np.count_nonzero(c.ngram_counts[k])) == len(grams[k])
            for g, v in grams[k].items():
                assert c.count(g) == v, (n, g)
            for h, v in ctx[k].items():
                assert c.context_count(h) == v, (n, h)


def test_index_never_overflows_at_high_order():
    """V**5 overflows int64 for V = 20000; the index's codes must not."""
    rng = np.random.default_rng(1)
    V = 20_000
    seqs = [rng.integers(V - 50, V, size=int(rng.integers(1, 12))) for _ in range(200)]
    idx = NgramIndex(seqs, V, 5)
    seen = {tuple(s[i:i + 5]) for s in seqs for i in range(len(s) - 4)}
    grams = np.array(sorted(seen))
    codes = idx.lookup(grams)
    assert (codes >= 0).all() and len(set(codes.tolist())) == len(seen)
    assert (idx.grams(5)[codes] == grams).all()
    unseen = grams.copy()
    unseen[:, 0] = 0
    assert (idx.lookup(unseen) == -1).all()


def test_hand_values_on_the_sam_corpus():
    """Jurafsky and Martin's example, worked by hand."""
    vocab = Vocab.build(SAM, min_count=1)           # 10 words; |V| = 12 with <unk> and </s>
    c2 = count_ngrams(SAM, 2, vocab)
    assert M.MLE(c2).score("am", ["i"]) == pytest.approx(2 / 3, rel=1e-15)
    assert M.MLE(c2).score("i", []) == pytest.approx(2 / 3)          # P(i | <s>)
    assert M.Laplace(c2).score("am", ["i"]) == pytest.approx(3 / 15)
    assert M.AddK(c2, k=0.5).score("zebra", ["i"]) == pytest.approx(0.5 / 9)
    # KN bigram: 15 bigram types, 11 words with a continuation; am follows only i
    p1_am = (1 - 0.75) / 15 + 0.75 * 11 / 15 / 12
    assert M.KneserNey(c2).score("am", ["i"]) == pytest.approx((2 - 0.75) / 3 + 0.75 * 2 / 3 * p1_am)
    # backoff: P(sam | am) seen, P(i | am) unseen after am
    p1 = lambda w, cnt: max(cnt - 0.75, 0) / 17 + 0.75 * 11 / 17 / 12   # noqa: E731
    bo = M.Backoff(c2)
    assert bo.score("sam", ["am"]) == pytest.approx((1 - 0.75) / 2)
    alpha = (0.75 * 2 / 2) / (1 - p1("sam", 2) - p1("</s>", 3))
    assert bo.score("i", ["am"]) == pytest.approx(alpha * p1("i", 3))
    sb = M.StupidBackoff(c2)
    assert sb.score("ham", ["i"]) == pytest.approx(0.4 * 1 / 17)


def _kn_dict(sentences, n, vocab, D=0.75, modified=False):
    """Interpolated (modified) KN written the obvious way with dicts, for comparison."""
    grams, ctx = _dict_counts(sentences, n, vocab)
    V = vocab.prediction_size
    cont = {n: dict(grams[n])}
    for k in range(n - 1, 0, -1):
        cont[k] = {}
        for g in grams[k + 1]:
            cont[k][g[1:]] = cont[k].get(g[1:], 0) + 1

    def discount(k, c):
        if not modified:
            return D if c > 0 else 0.0
        nj = [sum(1 for v in cont[k].values() if v == j) for j in (1, 2, 3, 4)]
        if min(nj) == 0:
            Ds = (0.5, 1.0, 1.5)
        else:
            Y = nj[0] / (nj[0] + 2 * nj[1])
            Ds = tuple(j - (j + 1) * Y * nj[j] / nj[j - 1] for j in (1, 2, 3))
            Ds = Ds if min(Ds) > 0 else (0.5, 1.0, 1.5)
        return 0.0 if c == 0 else Ds[min(c, 3) - 1]

    def p(w, h, k):
        if k == 0:
            return 1.0 / V
        h = h[len(h) - (k - 1):] if k > 1 else ()
        a = cont[k]
        a_h = sum(v for g, v in a.items() if g[:-1] == h)
        if a_h == 0:
            return p(w, h, k - 1)
        gamma = sum(discount(k, v) for g, v in a.items() if g[:-1] == h) / a_h
        c = a.get(h + (w,), 0)
        return max(c - discount(k, c), 0) / a_h + gamma * p(w, h, k - 1)
    return p


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_kneser_ney_matches_a_dict_implementation(n):
    rng = np.random.default_rng(n)
    sents = _random_corpus(rng, n_sent=40)
    vocab = Vocab.build(sents, min_count=2)
    kn = M.KneserNey(count_ngrams(sents, n, vocab))
    ref = _kn_dict(sents, n, vocab)
    for h in ([], ["w1"], ["w2", "w3"], ["zzz", "w1", "w0"]):
        padded = tuple((["<s>"] * (n - 1) + vocab.map_unk(h))[-(n - 1):]) if n > 1 else ()
        d = kn.distribution(h)
        want = [ref(w, padded, n) for w in vocab.prediction_words()]
        assert np.allclose(d[vocab.prediction_ids], want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_modified_kneser_ney_matches_a_dict_implementation(n):
    from autograder.suites.a1_ngram.scenarios import CORPORA
    for sents in ([s.split() for s in CORPORA["dogs"]], _random_corpus(np.random.default_rng(9),
                                                                       n_sent=300)):
        vocab = Vocab.build(sents, min_count=1)
        mkn = M.ModifiedKneserNey(count_ngrams(sents, n, vocab))
        ref = _kn_dict(sents, n, vocab, modified=True)
        for h in ([], ["the"], ["w1"], ["the", "dog"], ["zzz", "w1"]):
            padded = tuple((["<s>"] * (n - 1) + vocab.map_unk(h))[-(n - 1):]) if n > 1 else ()
            want = [ref(w, padded, n) for w in vocab.prediction_words()]
            got = mkn.distribution(h)
            assert np.allclose(got[vocab.prediction_ids], want, rtol=1e-12, atol=0)
            assert got.sum() == pytest.approx(1.0, abs=1e-12)


def test_modified_discounts_formula_and_fallback():
    a = np.repeat([0, 1, 2, 3, 4, 9], [3, 10, 4, 2, 1, 5]).astype(float)
    D, fb = modified_discounts(a)
    Y = 10 / (10 + 2 * 4)
    assert not fb
    assert np.allclose(D, [1 - 2 * Y * 4 / 10, 2 - 3 * Y * 2 / 4, 3 - 4 * Y * 1 / 2], rtol=1e-15)
    for counts in ([10, 4, 0, 1], [10, 0, 2, 1], [0, 1, 1, 1], [10, 1, 10, 2]):  # zero or D2 < 0
        D, fb = modified_discounts(np.repeat([1, 2, 3, 4], counts).astype(float))
        assert fb and tuple(D) == FALLBACK_DISCOUNTS, counts


@pytest.mark.parametrize("make", [lambda c: M.MLE(c), lambda c: M.AddK(c, k=0.3),
                                  lambda c: M.Interpolated(c),
                                  lambda c: M.Backoff(c, discount=0.6),
                                  lambda c: M.KneserNey(c, discount=[0.5, 0.6, 0.9])])
def test_every_distribution_sums_to_one(make):
    rng = np.random.default_rng(7)
    sents = _random_corpus(rng)
    vocab = Vocab.build(sents, min_count=2)
    lm = make(count_ngrams(sents, 3, vocab))
    for h in ([], ["w1"], ["w1", "w2"], ["<unk>", "w3"], ["never", "seen"], ["w5", "w5", "w5"]):
        d = lm.distribution(h)
        assert d[vocab.bos_id] == 0 and (d >= 0).all()
        assert d.sum() == pytest.approx(1.0, abs=1e-12), h


def test_interpolation_fit_maximises_heldout_likelihood():
    rng = np.random.default_rng(3)
    sents = _random_corpus(rng, n_sent=80)
    vocab = Vocab.build(sents[:60], min_count=1)
    lm = M.Interpolated(count_ngrams(sents[:60], 2, vocab)).fit(sents[60:])
    assert lm.lambdas.sum() == pytest.approx(1.0) and (lm.lambdas >= 0).all()
    best = lm.logprobs(sents[60:]).sum()
    for _ in range(20):   # no nearby weights do better
        other = np.clip(lm.lambdas + rng.normal(0, 0.02, 3), 1e-6, None)
        other /= other.sum()
        assert M.Interpolated(lm.counts, other).logprobs(sents[60:]).sum() <= best + 1e-9


def test_perplexity_edge_cases_and_inputs():
    vocab = Vocab.build(SAM, min_count=1)
    c = count_ngrams(SAM, 2, vocab)
    assert M.MLE(c).perplexity([["i", "like", "sam"]]) == float("inf")
    assert M.KneserNey(c).perplexity([[]]) == pytest.approx(1 / M.KneserNey(c).score("</s>", []))
    with pytest.raises(ValueError):
        M.KneserNey(c).perplexity([])
    test = [["i", "am", "zebra"]]
    kept = copy.deepcopy(test)
    M.KneserNey(c).perplexity(test)
    assert test == kept


def test_lmcore_interface_and_seeded_sampling():
    from lmcore import lm as lmcore_lm
    vocab = Vocab.build(SAM, min_count=1)
    kn = M.KneserNey(count_ngrams(SAM, 3, vocab))
    assert isinstance(kn, lmcore_lm.LanguageModel)
    lp = kn.logprobs(SAM)
    assert lp.shape == (sum(len(s) + 1 for s in SAM),)
    assert lmcore_lm.perplexity(kn, SAM) == pytest.approx(kn.perplexity(SAM), rel=1e-12)
    assert not hasattr(kn, "generate")           # lmcore.lm.generate is the one sampler
    a = [lmcore_lm.generate(kn, np.random.default_rng(5)) for _ in range(3)]
    b = [lmcore_lm.generate(kn, np.random.default_rng(5)) for _ in range(3)]
    assert a == b and all(set(s) <= set(vocab.itos) for s in a)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_dict_models_agree_exactly_with_the_vectorised_ones(n):
    """Part one and part two of the reference: the same counts and, on the same floating-point
    operations in the same order, bit-for-bit the same probabilities."""
    from a1_ngram import dict_models as D
    rng = np.random.default_rng(10 + n)
    sents = _random_corpus(rng, n_sent=50)
    vocab = Vocab.build(sents, min_count=2)
    dc, vc = D.dict_counts(sents, n, vocab), count_ngrams(sents, n, vocab)
    grams, ctx = _dict_counts(sents, n, vocab)
    for k in range(1, n + 1):
        assert dc.ngram_counts[k] == grams[k] and dc.context_counts[k] == ctx[k]
    test = _random_corpus(rng, n_sent=10) + [[]]
    for d, v in ((D.DictMLE(dc), M.MLE(vc)), (D.DictAddK(dc, k=0.3), M.AddK(vc, k=0.3)),
                 (D.DictKneserNey(dc, discount=0.6), M.KneserNey(vc, discount=0.6))):
        for h in ([], ["w1"], ["w2", "w3"], ["zzz", "w1", "w0"]):
            assert (d.next_distribution(h) == v.next_distribution(h)).all()
            assert d.score("w1", h) == v.score("w1", h) and d.score("<s>", h) == 0
        assert (d.logprobs(test) == v.logprobs(test)).all()
        assert d.perplexity(test) == pytest.approx(v.perplexity(test), rel=1e-13)
        assert d.next_distribution(["w1"]).sum() == pytest.approx(1.0, abs=1e-12)


def test_sampling_draws_check_passes_honest_samplers_and_fails_others():
    """The statistical part of the sampling tests (judges.draws_follow on the model's own
    distribution): honest draws pass at every seed tried, draws from another distribution fail
    naming the context, the token and the likely cause."""
    from autograder.suites.a1_ngram.public import STATEFUL, sampling_judge
    p = np.array([0.0, 0.5, 0.2, 0.1, 0.1, 0.05, 0.05])
    words = [f"w{i}" for i in range(len(p))]

    def out(draws):
        return {"dist": p[None, :], "words": words, "contexts": ["w1"], "samples": [],
                "same_samples": True, "prompt_unchanged": True,
                "draws": {"counts": draws[None, :], "probs": p[None, :], "tokens": words,
                          "labels": ["the first token drawn after 'w1'"]}}
    for seed in range(200):
        draws = np.random.default_rng(seed).multinomial(800, p)
        assert sampling_judge(out(draws), out(draws)).passed, seed
    q = np.array([0.0, 0.3, 0.3, 0.1, 0.1, 0.1, 0.1])     # total variation 0.2 from p
    draws = np.random.default_rng(0).multinomial(800, q)
    v = sampling_judge(out(draws), out(draws))
    assert v.score == 0.75 and v.hints == (STATEFUL,)
    assert "worst the first token drawn after 'w1'" in v.message and "id 1 ('w1')" in v.message
    assert "does next_distribution keep state between calls?" in v.feedback()
    draws[0] = 1                                              # a word of probability 0
    assert "probability 0" in sampling_judge(out(draws), out(draws)).message


def test_measurements_on_the_sam_corpus():
    vocab = Vocab.build(SAM, min_count=1)
    c = count_ngrams(SAM, 2, vocab)
    test = [["i", "am", "ham"]]           # bigrams <s> i, i am, am ham (unseen), ham </s>
    assert unseen_rate(c, test, 2) == pytest.approx(1 / 4)
    assert unseen_rate(c, test, 1) == 0.0
    assert table_size(c, 2) == {"ngrams": 15, "bytes": 15 * 16}


def test_shakespeare_reference_perplexities():
    """NLTK's figures (docs/design.md) on the same padded sentences: Laplace bigram 687.6 (NLTK's
    |V| includes <s>, ours does not: 687.5), Laplace trigram 4033, KN trigram (D = 0.75) 154.3."""
    from lmcore.corpus import load_shakespeare
    train, test = load_shakespeare("train"), load_shakespeare("test")
    vocab = Vocab.build(train, min_count=2)
    c3 = count_ngrams(train, 3, vocab)
    assert M.KneserNey(c3).perplexity(test) == pytest.approx(154.3, abs=0.05)
    assert M.Laplace(c3).perplexity(test) == pytest.approx(4033, abs=0.5)


# -- the notebook --------------------------------------------------------------------------------
@pytest.mark.slow
def test_notebook_runs_in_fast_mode(tmp_path):
    import nbformat
    nb = nbformat.read(SOLUTION / "a1_ngram.ipynb", as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        if meta.get("grade") and cell.cell_type == "markdown":
            assert meta["solution"] and meta["points"] > 0
    text = run_notebook(SOLUTION / "a1_ngram.ipynb", timeout=120, source=(
        f"MAX_ORDER = 3\nFAST = True\nSEED = 0\nFIGURES = {str(tmp_path / 'figures')!r}\n"))
    assert "Kneser-Ney" in text and "lmcore.lm.perplexity agrees" in text
    assert "dict and vectorised models agree: largest difference 0 " in text
    assert "the same perplexity: True" in text
    assert_checks_pass(text, A1)
    assert (tmp_path / "figures" / "a1_perplexity.png").exists()
