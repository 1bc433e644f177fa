"""Scenarios of assignment 1 (n-gram models). Each takes the package under test (``sub``, the
student's or the reference) and a seeded numpy Generator, and returns plain data.

The small corpora below are meant to be worked by hand: ``sam`` is the example of Jurafsky
and Martin (ch. 3); ``frisco`` makes raw and continuation counts disagree (``francisco`` is
frequent but only ever follows ``san``); ``dogs`` is a little larger, for the hidden tests.
Real-split scenarios count the full Shakespeare training split and score a prefix of the
test split, a few seconds each.
"""
from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np

from lmcore.vocab import Vocab

CORPORA = {
    "sam": ["i am sam", "sam i am", "i do not like green eggs and ham"],
    "sam_heldout": ["i am sam i am", "sam i like green eggs", "i do not like ham"],
    "sam_test": ["i am sam", "sam i do not like ham", "i like green zebra eggs", ""],
    "frisco": ["san francisco is foggy", "i love san francisco", "san francisco san francisco",
               "the city is foggy", "i love the city", "in san francisco the fog is thick"],
    "frisco_test": ["i love the fog", "san francisco is thick"],
    "dogs": ["the dog sat on the mat", "the cat sat on the dog", "a dog ate the bone",
             "the cat ate a fish", "a cat sat on a mat", "the dog saw a cat",
             "the bird sat on the dog", "a bird ate a seed"],
    "dogs_heldout": ["the cat sat on the bone", "a dog sat on the cat", "the bird saw a dog"],
    "dogs_test": ["the dog sat on a fish", "a zebra ate the mat", "the cat saw the cat sat"],
}


def _sentences(name: str) -> list[list[str]]:
    return [s.split() for s in CORPORA[name]]


def _vocab(corpus: str, min_count: int) -> Vocab:
    return Vocab.build(_sentences(corpus), min_count=min_count)


@lru_cache(maxsize=None)
def _shakespeare():
    from lmcore.corpus import load_shakespeare
    train, valid, test = (load_shakespeare(s) for s in ("train", "valid", "test"))
    return train, valid, test, Vocab.build(train, min_count=2)


def _data(corpus: str, min_count: int):
    """(train, heldout, test, vocab) of a named corpus; "shakespeare" is the real split."""
    if corpus == "shakespeare":
        train, valid, test, vocab = _shakespeare()
        return [list(s) for s in train], valid, test, vocab
    return (_sentences(corpus), _sentences(corpus + "_heldout") if corpus + "_heldout" in CORPORA
            else [], _sentences(corpus + "_test"), _vocab(corpus, min_count))


def _make(sub, counts, model: str, kwargs: dict, heldout):
    m = sub.models
    if model == "mle":
        return m.MLE(counts)
    if model == "laplace":
        return m.Laplace(counts)
    if model == "addk":
        return m.AddK(counts, **kwargs)
    if model == "interp":
        lm = m.Interpolated(counts, **kwargs)
        return lm if "lambdas" in kwargs else lm.fit(heldout)
    if model == "backoff":
        return m.Backoff(counts, **kwargs)
    if model == "stupid":
        return m.StupidBackoff(counts, **kwargs)
    if model == "kn":
        return m.KneserNey(counts, **kwargs)
    if model == "mkn":
        return m.ModifiedKneserNey(counts, **kwargs)
    raise ValueError(f"unknown model {model!r}")


# -- padding and counting -------------------------------------------------------------------
def pad_case(sub, rng, sentence: list, n: int):
    """pad(sentence, n) and the n-grams of the padded sentence."""
    sent = list(sentence)
    padded = sub.counts.pad(sent, n)
    return {"pad": list(padded), "unchanged": sent == list(sentence)}


def ngrams_case(sub, rng, tokens: list, orders: list):
    toks = list(tokens)
    out = {f"n{n}": [list(g) for g in sub.counts.ngrams(toks, n)] for n in orders}
    out["unchanged"] = toks == list(tokens)
    return out


def _padded_grams(sentence, n, k):
    """The k-grams ending at the predicted positions of ``sentence`` padded for order n."""
    toks = ["<s>"] * (n - 1) + list(sentence) + ["</s>"]
    return [tuple(toks[i - k + 1:i + 1]) for i in range(n - 1, len(toks))]


def counting(sub, rng, corpus: str, n: int, min_count: int = 1, n_random: int = 8):
    """Counts of every k-gram of the corpus (k = 1..n), of contexts, and of random k-grams."""
    train, _, _, vocab = _data(corpus, min_count)
    counts = sub.counts.count_ngrams(train, n, vocab)
    queries = sorted({g for s in train for k in range(1, n + 1) for g in _padded_grams(s, n, k)})
    words = vocab.itos
    for _ in range(n_random):
        k = int(rng.integers(1, n + 1))
        queries.append(tuple(words[int(i)] for i in rng.integers(0, len(words), size=k)))
    contexts = sorted({g[:-1] for g in queries if len(g) > 1} | {()})
    return {
        "ngrams": [" ".join(q) for q in queries],
        "ngram_counts": np.array([counts.count(q) for q in queries], dtype=np.int64),
        "contexts": [" ".join(c) for c in contexts],
        "context_counts": np.array([counts.context_count(c) for c in contexts], dtype=np.int64),
        "bos_context": counts.context_count(("<s>",) * (n - 1)) if n > 1 else -1,
        "types": [int(np.count_nonzero(np.asarray(counts.ngram_counts[k])))
                  for k in range(1, n + 1)],
    }


def measurements(sub, rng, corpus: str, n: int, min_count: int = 1):
    """unseen_rate of the test sentences and table_size, for every k = 1..n."""
    train, _, test, vocab = _data(corpus, min_count)
    counts = sub.counts.count_ngrams(train, n, vocab)
    sizes = [sub.counts.table_size(counts, k) for k in range(1, n + 1)]
    return {"unseen_rate": [sub.counts.unseen_rate(counts, test, k) for k in range(1, n + 1)],
            "ngrams": [s["ngrams"] for s in sizes], "bytes": [s["bytes"] for s in sizes]}


# -- models ----------------------------------------------------------------------------------
def model_dist(sub, rng, corpus: str, n: int, model: str, kwargs: dict | None = None,
               min_count: int = 1, contexts: list | None = None, n_random: int = 3):
    """The full distribution of ``model`` after each context, with the counts behind it.

    Contexts: the given ones (seen, unseen, with <unk>, empty) plus ``n_random`` drawn from
    the vocabulary. ``info`` holds the reference's facts for the hints (order-n counts
    c(h, w) and c(h), |V|, raw unigram counts)."""
    train, heldout, _, vocab = _data(corpus, min_count)
    counts = sub.counts.count_ngrams(train, n, vocab)
    lm = _make(sub, counts, model, dict(kwargs or {}), heldout)
    ctxs = [list(c) for c in (contexts or [])]
    words = [w for w in vocab.itos if w != "<s>"]
    for _ in range(n_random):
        ctxs.append([words[int(i)] for i in rng.integers(0, len(words), size=max(n - 1, 0))])
    dist = np.array([np.asarray(lm.distribution(c), dtype=np.float64) for c in ctxs])
    V = len(vocab)
    c_hw = np.zeros((len(ctxs), V), np.int64)
    c_h = np.zeros(len(ctxs), np.int64)
    for i, c in enumerate(ctxs):
        ids = np.repeat(sub.base.pad_context(vocab, c, n)[None, :], V, axis=0)
        hw, h = counts.lookup_counts(ids, np.arange(V), n)
        c_hw[i], c_h[i] = hw, h[0]
    unigram = np.array([counts.count((w,)) for w in vocab.itos], dtype=np.int64)
    return {"dist": dist, "words": list(vocab.itos), "contexts": [" ".join(c) for c in ctxs],
            "info": {"c_hw": c_hw, "c_h": c_h, "V": vocab.prediction_size,
                     "unigram": unigram, "bos": vocab.bos_id}}


def scores(sub, rng, corpus: str, n: int, model: str, pairs: list, kwargs: dict | None = None,
           min_count: int = 1):
    """score and logscore of (word, context) pairs."""
    train, heldout, _, vocab = _data(corpus, min_count)
    lm = _make(sub, sub.counts.count_ngrams(train, n, vocab), model, dict(kwargs or {}), heldout)
    return {"score": [float(lm.score(w, list(c))) for w, c in pairs],
            "logscore": [float(lm.logscore(w, list(c))) for w, c in pairs],
            "pairs": [f"{w!r} after {' '.join(c) or '(start)'}" for w, c in pairs]}


def interp_fit(sub, rng, corpus: str, n: int, min_count: int = 1):
    """The interpolation weights fitted by EM on the held-out sentences."""
    train, heldout, _, vocab = _data(corpus, min_count)
    lm = sub.models.Interpolated(sub.counts.count_ngrams(train, n, vocab))
    fitted = lm.fit(heldout)
    return {"lambdas": np.asarray(lm.lambdas, dtype=np.float64),
            "returns_self": fitted is lm}


def perplexity(sub, rng, corpus: str, n: int, model: str, kwargs: dict | None = None,
               min_count: int = 1, n_test: int | None = None):
    """Perplexity of the test sentences, all together and one by one (hand corpora), or of
    the first ``n_test`` test sentences (Shakespeare). ``info`` has the model's own
    log-probabilities (from the provided ``logprobs``) for the hints."""
    train, heldout, test, vocab = _data(corpus, min_count)
    if n_test is not None:
        test = test[:n_test]
    lm = _make(sub, sub.counts.count_ngrams(train, n, vocab), model, dict(kwargs or {}), heldout)
    out = {"ppl": float(lm.perplexity(test))}
    if corpus != "shakespeare":
        out["ppl_each"] = [float(lm.perplexity([s])) for s in test]
    lp = np.asarray(lm.logprobs(test), dtype=np.float64)
    eos = np.zeros(len(lp), dtype=bool)
    eos[np.cumsum([len(s) + 1 for s in test]) - 1] = True
    out["info"] = {"logprobs": lp, "eos": eos}
    return out


def generate(sub, rng, corpus: str, n: int, model: str, kwargs: dict | None = None,
             min_count: int = 1, n_samples: int = 5, max_tokens: int = 20,
             prompt: list | None = None):
    """Seeded samples; the same rng stream must give the same tokens as the reference."""
    train, heldout, _, vocab = _data(corpus, min_count)
    lm = _make(sub, sub.counts.count_ngrams(train, n, vocab), model, dict(kwargs or {}), heldout)
    p = list(prompt or [])
    samples = [list(lm.generate(rng, max_tokens=max_tokens, prompt=p)) for _ in range(n_samples)]
    return {"samples": [" ".join(s) for s in samples], "prompt_unchanged": p == list(prompt or [])}


def inputs_unchanged(sub, rng, corpus: str = "sam", n: int = 3):
    """Every graded function leaves its inputs as they were."""
    train, heldout, test, vocab = _data(corpus, 1)
    keep = copy.deepcopy((train, heldout, test))
    out = {}
    sent = list(train[0])
    sub.counts.pad(sent, n)
    sub.counts.ngrams(sent, 2)
    out["pad_ngrams"] = sent == train[0]
    counts = sub.counts.count_ngrams(train, n, vocab)
    out["count_ngrams"] = train == keep[0]
    sub.counts.unseen_rate(counts, test, n)
    out["unseen_rate"] = test == keep[2]
    lm = sub.models.Interpolated(counts).fit(heldout)
    out["fit"] = heldout == keep[1]
    kn = sub.models.KneserNey(counts)
    kn.perplexity(test)
    out["perplexity"] = test == keep[2]
    ctx = ["i", "am"]
    kn.score("sam", ctx)
    kn.logscore("sam", ctx)
    out["score"] = ctx == ["i", "am"]
    return out


# -- optional part: modified Kneser-Ney ----------------------------------------------------------
def mkn_formula(sub, rng, counts_of_counts: list):
    """modified_discounts on arrays with the given counts of counts (n1, n2, n3, n4), plus a
    few larger counts and zeros, shuffled with rng."""
    out = {"D": [], "fallback": []}
    for n1, n2, n3, n4 in counts_of_counts:
        a = np.repeat([0, 1, 2, 3, 4, 7, 12], [5, n1, n2, n3, n4, 2, 1]).astype(np.float64)
        rng.shuffle(a)
        kept = a.copy()
        D, fallback = sub.models.modified_discounts(a)
        out["D"].append(np.asarray(D, dtype=np.float64))
        out["fallback"].append(bool(fallback))
        out.setdefault("unchanged", True)
        out["unchanged"] = out["unchanged"] and bool((a == kept).all())
    return out


def mkn_dist(sub, rng, corpus: str, n: int, min_count: int = 1, contexts: list | None = None,
             n_random: int = 3):
    """Modified KN's distributions after each context, and its discounts per order."""
    train, _, _, vocab = _data(corpus, min_count)
    lm = sub.models.ModifiedKneserNey(sub.counts.count_ngrams(train, n, vocab))
    ctxs = [list(c) for c in (contexts or [])]
    words = [w for w in vocab.itos if w != "<s>"]
    for _ in range(n_random):
        ctxs.append([words[int(i)] for i in rng.integers(0, len(words), size=max(n - 1, 0))])
    return {"dist": np.array([np.asarray(lm.distribution(c), dtype=np.float64) for c in ctxs]),
            "words": list(vocab.itos), "contexts": [" ".join(c) for c in ctxs],
            "discounts": np.asarray(lm.discounts, dtype=np.float64),
            "fallback": [bool(f) for f in lm.fallback]}


def warm():
    """Parse the real split once in the worker, before the tests fork (they inherit it)."""
    _shakespeare()
