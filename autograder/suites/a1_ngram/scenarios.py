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
from autograder.authoring import fixtures as F

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
    from lmcore.corpus import load_shakespeare, split_plays
    plays = _parsed_plays()
    if plays is None:
        train, valid, test = (load_shakespeare(s) for s in ("train", "valid", "test"))
    else:   # what load_shakespeare gives, from the plays the grader parsed once
        train, valid, test = ([list(s) for name in split_plays(split) for s in plays[name]]
                              for split in ("train", "valid", "test"))
    return train, valid, test, Vocab.build(train, min_count=2)


_CORPUS_FILE = "shakespeare.marshal"   # engine/staging.py's CORPUS_FILE


def _parsed_plays() -> dict | None:
    """The plays as lmcore.corpus parses them, from the file the grader puts at the root of
    the kit a worker runs (engine/staging.py; never in a checkout or a release), or None."""
    import marshal
    from pathlib import Path
    path = Path(__file__).resolve().parents[3] / _CORPUS_FILE
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _data(corpus: str, min_count: int):
    """(train, heldout, test, vocab) of a named corpus; "shakespeare" is the real split."""
    if corpus == "shakespeare":
        # no copy: every test runs in a process of its own (a fork of the warmed worker, or a
        # fresh worker), so code that modifies its input cannot reach the next test's data
        return _shakespeare()
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


def sampling(sub, rng, corpus: str, n: int, model: str, kwargs: dict | None = None,
             min_count: int = 1, prompts: list | None = None, n_draws: int = 800,
             n_samples: int = 5, max_tokens: int = 20):
    """The model through the course's one sampler, ``lmcore.lm.generate``.

    For each prompt: ``next_distribution(prompt)`` (``dist``), and in ``draws`` what
    ``fixtures.generate_draws`` counts of ``n_draws`` sentences of two tokens after it, with
    the model's own distributions of both draws, two rows a prompt named in ``labels``. Then
    ``n_samples`` sentences, twice, from two generators with the same seed: a model without
    hidden state gives the same ones."""
    from lmcore.lm import generate

    train, heldout, _, vocab = _data(corpus, min_count)
    lm = _make(sub, sub.counts.count_ngrams(train, n, vocab), model, dict(kwargs or {}), heldout)
    prompts = [list(p) for p in (prompts or [[]])]
    kept = copy.deepcopy(prompts)
    dist = np.array([np.asarray(lm.next_distribution(p), dtype=np.float64) for p in prompts])
    rows = [F.generate_draws(lm, rng, n_draws, p)["draws"] for p in prompts]
    labels = [f"the {which} token drawn after {' '.join(p)!r}" if p else
              f"the {which} token drawn at the sentence start"
              for p in prompts for which in ("first", "second")]
    draws = {"counts": np.concatenate([r["counts"] for r in rows]),
             "probs": np.concatenate([r["probs"] for r in rows]),
             "tokens": list(vocab.itos), "labels": labels}
    seed = int(rng.integers(2**32))
    runs = []
    for _ in range(2):
        g = np.random.default_rng(seed)
        runs.append([" ".join(generate(lm, g, max_tokens=max_tokens, prompt=prompts[-1]))
                     for _ in range(n_samples)])
    return {"dist": dist, "draws": draws, "words": list(vocab.itos),
            "contexts": [" ".join(p) for p in prompts], "samples": runs[0],
            "same_samples": runs[0] == runs[1], "prompt_unchanged": prompts == kept}


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
    sub.models.Interpolated(counts).fit(heldout)
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


# -- part one: counting and estimating with dicts ------------------------------------------------
def _padded_context(vocab, context, n):
    """The n-1 tokens before the next word (plain code, the same for every submission)."""
    tokens = ["<s>"] * (n - 1) + vocab.map_unk(context)
    return tokens[len(tokens) - (n - 1):] if n > 1 else []


def dict_counting(sub, rng, corpus: str, n: int, min_count: int = 1, n_random: int = 8):
    """dict_counts of a small corpus: the count of every k-gram (k = 1..n) that ends at a
    predicted token, of the k-grams that end at <s> (never counted), of random k-grams, and of
    their contexts; the number of distinct k-grams counted; whether the keys are tuples."""
    train, _, _, vocab = _data(corpus, min_count)
    kept = copy.deepcopy(train)
    counts = sub.dict_models.dict_counts(train, n, vocab)
    grams = {g for s in train for k in range(1, n + 1)
             for g in _padded_grams(vocab.map_unk(s), n, k)}
    grams |= {("<s>",) * k for k in range(1, n + 1)}
    queries = sorted(grams)
    words = vocab.itos
    for _ in range(n_random):
        k = int(rng.integers(1, n + 1))
        queries.append(tuple(words[int(i)] for i in rng.integers(0, len(words), size=k)))
    contexts = sorted({g[:-1] for g in queries})
    table = counts.ngram_counts
    return {
        "corpus": [" ".join(s) for s in train], "n": n,
        "ngrams": [list(q) for q in queries],
        "ngram_counts": np.array([counts.count(q) for q in queries], dtype=np.int64),
        "contexts": [list(c) for c in contexts],
        "context_counts": np.array([counts.context_count(c) for c in contexts], dtype=np.int64),
        "types": [sum(1 for c in table[k].values() if c > 0) for k in range(1, n + 1)],
        "keys_ok": [all(isinstance(g, tuple) and len(g) == k and all(isinstance(t, str)
                                                                      for t in g)
                        for g in table[k]) for k in range(1, n + 1)],
        "unchanged": train == kept,
    }


def _make_dict(sub, counts, model: str, kwargs: dict):
    d = sub.dict_models
    if model == "mle":
        return d.DictMLE(counts)
    if model == "addk":
        return d.DictAddK(counts, **kwargs)
    if model == "kn":
        return d.DictKneserNey(counts, **kwargs)
    raise ValueError(f"unknown dict model {model!r}")


def _events(vocab, sentences, n):
    """A name for every predicted token of ``sentences``, in the order of ``logprobs``."""
    out = []
    for s in sentences:
        tokens = ["<s>"] * (n - 1) + vocab.map_unk(s) + ["</s>"]
        for i in range(n - 1, len(tokens)):
            out.append(f"P({tokens[i]} | {' '.join(tokens[i - n + 1:i]) or '()'}) in the sentence "
                       f"{' '.join(s)!r}")
    return out


def dict_model(sub, rng, corpus: str, n: int, model: str, kwargs: dict | None = None,
               min_count: int = 1, contexts: list | None = None, n_random: int = 3,
               pairs: list | None = None):
    """A dict model's full distribution after each context (seen, unseen, with <unk>, the
    sentence start, plus ``n_random`` drawn ones), ln p of every token of the test sentences
    (an empty one and unknown words among them), and the scores of a few (word, context)
    pairs (<s> and unknown words). ``info`` holds the counts behind each distribution."""
    train, _, test, vocab = _data(corpus, min_count)
    counts = sub.dict_models.dict_counts(train, n, vocab)
    lm = _make_dict(sub, counts, model, dict(kwargs or {}))
    ctxs = [list(c) for c in (contexts or [])]
    words = [w for w in vocab.itos if w != "<s>"]
    for _ in range(n_random):
        ctxs.append([words[int(i)] for i in rng.integers(0, len(words), size=max(n - 1, 0))])
    pairs = [(w, list(c)) for w, c in (pairs or [])]
    padded = [_padded_context(vocab, c, n) for c in ctxs]
    c_hw = np.array([[counts.count(h + [w]) if w != "<s>" else 0 for w in vocab.itos]
                     for h in padded], dtype=np.int64)
    return {
        "dist": np.array([np.asarray(lm.next_distribution(c), dtype=np.float64) for c in ctxs]),
        "words": list(vocab.itos), "contexts": [" ".join(h) or "()" for h in padded],
        "logprobs": np.asarray(lm.logprobs(test), dtype=np.float64),
        "events": _events(vocab, test, n),
        "score": [float(lm.score(w, c)) for w, c in pairs],
        "pairs": [f"P({w} | {' '.join(c) or '(sentence start)'})" for w, c in pairs],
        "info": {"c_hw": c_hw,
                 "c_h": np.array([counts.context_count(h) for h in padded], dtype=np.int64),
                 "V": vocab.prediction_size, "bos": vocab.bos_id, "model": model, "n": n,
                 "corpus": corpus,
                 "unigram": np.array([counts.count((w,)) for w in vocab.itos], dtype=np.int64)},
    }


def dict_agreement(sub, rng, corpus: str, n: int, min_count: int = 1,
                   contexts: list | None = None, k: float = 0.5, discount: float = 0.75):
    """The student's dict models and vectorised models side by side: MLE, add-k and
    Kneser-Ney, their distributions after each context and ln p of the test sentences."""
    train, _, test, vocab = _data(corpus, min_count)
    dc = sub.dict_models.dict_counts(train, n, vocab)
    vc = sub.counts.count_ngrams(train, n, vocab)
    pairs = {"mle": (sub.dict_models.DictMLE(dc), sub.models.MLE(vc)),
             "addk": (sub.dict_models.DictAddK(dc, k=k), sub.models.AddK(vc, k=k)),
             "kn": (sub.dict_models.DictKneserNey(dc, discount=discount),
                    sub.models.KneserNey(vc, discount=discount))}
    ctxs = [list(c) for c in (contexts or [[]])]
    out = {"words": list(vocab.itos), "contexts": [" ".join(c) or "()" for c in ctxs],
           "events": _events(vocab, test, n)}
    for name, (d, v) in pairs.items():
        out[name] = {
            side: {"dist": np.array([np.asarray(m.next_distribution(c), dtype=np.float64)
                                     for c in ctxs]),
                   "logprobs": np.asarray(m.logprobs(test), dtype=np.float64)}
            for side, m in (("dict", d), ("vectorised", v))}
    return out
