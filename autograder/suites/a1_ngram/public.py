"""Public tests of assignment 1 (ship with the release, expected outputs stored as data).

The judges and hints that recognise the classic mistakes live here, so hidden.py reuses them.
Every hint is computed from the outputs alone: the reference's counts (``expected["info"]``)
or the student's own log-probabilities (``actual["info"]``).
"""
from __future__ import annotations

import numpy as np

from autograder.authoring import judges as J
from autograder.authoring import public

# -- what the hints say -----------------------------------------------------------------------
ONE_BOS = ("an order-n model pads with n-1 <s> (two for a trigram): with a single <s> the "
           "trigram context (<s>, <s>) never occurs and the first word of every sentence is "
           "predicted from the wrong context.")
ADDK_NO_V = ("your add-k probabilities equal (c(h,w) + k) / c(h): every one of the |V| words "
             "gets k extra counts, so the denominator must grow by k*|V| too: "
             "(c(h,w) + k) / (c(h) + k*|V|).")
ADDK_K_ONCE = ("your add-k probabilities equal (c(h,w) + k) / (c(h) + k): each of the |V| words "
               "after h gets k extra counts, so the denominator grows by k once per word, |V| "
               "times: (c(h,w) + k) / (c(h) + k |V|).")
BOS_IN_V = ("your probabilities equal what |V| + 1 gives: <s> is never predicted, so it is not "
            "in the prediction space; |V| = vocab.prediction_size = len(vocab) - 1.")
KN_RAW = ("the lower-order distribution follows the raw counts: Kneser-Ney's lower orders use "
          "continuation counts N1+(. w), the number of distinct words seen before w (francisco "
          "is frequent but only ever follows san, so it must get a small lower-order "
          "probability); only the highest order uses raw counts.")
BACKOFF_NORM = ("the distribution does not sum to one: the back-off weight must spread exactly "
                "the discounted mass D*T(h)/c(h) over the words unseen after h, "
                "alpha(h) = (D*T(h)/c(h)) / (1 - sum of P_lower(w | h') over the words seen "
                "after h).")
INTERP_SUM = ("the interpolation weights do not sum to one, so the mixture is not a "
              "distribution: each EM step's new weight is the *mean* responsibility over the "
              "held-out tokens, and the weights start uniform (1/(n+1) each).")
PPL_LOG2 = ("your perplexity mixes logarithm bases: exp(-mean ln p) (or 2**(-mean log2 p), the "
            "same number); exp of a log2 mean, or 2 to a natural-log mean, is wrong.")
PPL_NO_EOS = ("your perplexity equals what the log-probabilities give without the </s> tokens: "
              "each sentence's </s> is predicted and counts in the mean (N = sum(len(s) + 1)).")
PPL_INF = ("a zero probability must make the perplexity inf, without an error: ln 0 = -inf "
           "(compute it under np.errstate(divide='ignore') or test for p == 0).")
LOG_BASE = ("your logscore is in base {b}: logscore is the natural log, ln p = np.log(p) "
            "(log2 and log10 give perplexities and likelihoods in other units).")
STATEFUL = ("does next_distribution keep state between calls? lmcore.lm.generate draws from "
            "what your model returns during sampling, and those draws disagree with what it "
            "returns for the same contexts afterwards: the distribution must depend on the "
            "context alone.")
BOS_NONZERO = "<s> has a non-zero probability: it is never predicted, so P(<s> | h) must be 0."


def _arr(x):
    return np.asarray(x, dtype=np.float64)


# -- padding and counts -----------------------------------------------------------------------
def _one_bos(expected, actual):
    pad = actual["pad"]
    return isinstance(pad, list) and pad.count("<s>") == 1 and expected["pad"].count("<s>") >= 2


one_bos_pad_hint = J.Hint(_one_bos, ONE_BOS)
one_bos_count_hint = J.Hint(lambda e, a: e["bos_context"] > 0 and a["bos_context"] == 0, ONE_BOS)


def counts_judge(expected, actual):
    """Exact counts, with each wrong count named by its n-gram."""
    score, msgs = 0.0, []
    for key, names in (("ngram_counts", "ngrams"), ("context_counts", "contexts"),
                       ("types", None)):
        label = (lambda p, idx, names=names: f"count of ({expected[names][idx[0]]})"
                 if names and idx else "")
        msg = J.compare(expected[key], actual[key], path=key, exact=True, label=label)
        if msg:
            msgs.append(msg)
        else:
            score += 1
    verdict = J.Verdict(score / 3, "\n".join(msgs))
    return J.with_hints(verdict, [one_bos_count_hint], expected, actual)


# -- distributions ------------------------------------------------------------------------------
def _seen_rows(e):
    return np.asarray(e["info"]["c_h"]) > 0


def _pred_cols(e):
    cols = np.ones(len(e["words"]), dtype=bool)
    cols[e["info"]["bos"]] = False
    return cols


def _addk_alt(e, k, extra_v=0, with_v=True):
    info = e["info"]
    c_hw, c_h = _arr(info["c_hw"]), _arr(info["c_h"])[:, None]
    V = info["V"] + extra_v
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c_hw + k) / (c_h + (k * V if with_v else 0))


def _addk_k_once(e, k):
    info = e["info"]
    return (_arr(info["c_hw"]) + k) / (_arr(info["c_h"])[:, None] + k)


def addk_hints(k):
    def no_v(e, a):
        rows, cols = _seen_rows(e), _pred_cols(e)
        alt = _addk_alt(e, k, with_v=False)
        return rows.any() and J.isclose(_arr(a["dist"])[rows][:, cols], alt[rows][:, cols])

    def bos(e, a):
        cols = _pred_cols(e)
        return J.isclose(_arr(a["dist"])[:, cols], _addk_alt(e, k, extra_v=1)[:, cols])

    def k_once(e, a):
        cols = _pred_cols(e)
        return J.isclose(_arr(a["dist"])[:, cols], _addk_k_once(e, k)[:, cols])
    return [J.Hint(no_v, ADDK_NO_V), J.Hint(bos, BOS_IN_V), J.Hint(k_once, ADDK_K_ONCE)]


def kn_raw_hint(discount=0.75):
    """Fires when the distribution after an unseen context (the lowest order, for a bigram
    model) follows raw unigram counts rather than the reference's continuation counts."""
    def when(e, a):
        info = e["info"]
        rows = np.nonzero(~_seen_rows(e))[0]
        if not len(rows):
            return False
        cols = _pred_cols(e)
        got = _arr(a["dist"])[rows[0]][cols]
        want = _arr(e["dist"])[rows[0]][cols]
        raw = _arr(info["unigram"])[cols]
        N, T, V = raw.sum(), np.count_nonzero(raw), info["V"]
        alt = np.maximum(raw - discount, 0) / N + discount * T / N / V
        if J.isclose(got, alt):
            return True
        return np.corrcoef(got, raw)[0, 1] > np.corrcoef(got, want)[0, 1] + 1e-6
    return J.Hint(when, KN_RAW)


def _row_sums_off(a):
    return not np.allclose(_arr(a["dist"]).sum(axis=1), 1.0, atol=1e-8)


def _backoff_unnormalised(e, a):
    """Right for every word seen after its context, wrong for the unseen ones (the backed-off
    mass), and the rows no longer sum to one: alpha(h) is not normalised."""
    if not _row_sums_off(a):
        return False
    cols = _pred_cols(e)
    seen = (_arr(e["info"]["c_hw"]) > 0) & cols[None, :] & _seen_rows(e)[:, None]
    unseen = ~seen & cols[None, :] & _seen_rows(e)[:, None]
    got, want = _arr(a["dist"]), _arr(e["dist"])
    return (seen.any() and unseen.any() and J.isclose(got[seen], want[seen], rtol=1e-9)
            and not J.isclose(got[unseen], want[unseen], rtol=1e-9))


def _mixture_weights_off(e, a):
    """Every distribution sums to the same k != 1: a mixture whose weights sum to k."""
    k = J.row_sum(_arr(a["dist"]), tol=1e-8)   # <s> has probability 0: sum over every word
    return k is not None and k > 0


backoff_sum_hint = J.Hint(_backoff_unnormalised, BACKOFF_NORM)
interp_sum_hint = J.Hint(_mixture_weights_off, INTERP_SUM)


def dist_judge(rtol=1e-9, hints=()):
    """Every probability of every context's distribution, named by word and context."""
    def judge(expected, actual):
        words, ctxs = expected["words"], expected["contexts"]

        def label(path, idx):
            if len(idx) == 2:
                return f"P({words[idx[1]]!r} | {ctxs[idx[0]] or '(sentence start)'!r})"
            return ""
        msg = J.compare(expected["dist"], actual["dist"], path="dist", rtol=rtol, atol=1e-12,
                        label=label)
        verdict = J.Verdict(0.0 if msg else 1.0, msg or "")
        return J.with_hints(verdict, hints, expected, actual)
    return judge


def sums_judge(hints=()):
    """Self-check: every row is a distribution over the prediction space, 0 at <s>."""
    inner = J.sums_to_one("dist", tol=1e-9)

    def judge(expected, actual):
        p = _arr(actual["dist"])
        words = actual["words"]
        bos = words.index("<s>") if isinstance(words, list) and "<s>" in words else None
        if bos is not None and (p[:, bos] != 0).any():
            i = int(np.argmax(p[:, bos] != 0))
            return J.Verdict(0.0, f"P('<s>' | {actual['contexts'][i]!r}) = {p[i, bos]:.3g}",
                             (BOS_NONZERO,))
        v = inner(expected, actual)
        if not v.passed:
            ctx = actual["contexts"]
            sums = p.sum(axis=1)
            i = int(np.argmax(np.abs(sums - 1)))
            v = J.Verdict(0.0, f"the distribution after {ctx[i] or '(sentence start)'!r} sums "
                               f"to {sums[i]:.12g}, not 1 (over {p.shape[1] - 1} predictable "
                               "words)")
        return J.with_hints(v, hints, expected, actual)
    return judge


# -- perplexity ----------------------------------------------------------------------------------
def _ppl_pairs(expected, actual):
    """(got, expected, ln p of those tokens, their </s> mask) for each wrong perplexity that
    is finite where expected: the whole set, then sentence by sentence."""
    lp, eos = _arr(actual["info"]["logprobs"]), np.asarray(actual["info"]["eos"], bool)
    ends = np.nonzero(eos)[0] + 1
    starts = np.concatenate([[0], ends[:-1]])
    pairs = [(actual["ppl"], expected["ppl"], lp, eos)]
    for i, (a, e) in enumerate(zip(actual.get("ppl_each", []), expected.get("ppl_each", []))):
        pairs.append((a, e, lp[starts[i]:ends[i]], eos[starts[i]:ends[i]]))
    return [p for p in pairs if np.isfinite(p[1]) and np.isfinite(p[2]).all()
            and not J.isclose(p[0], p[1], rtol=1e-9)]


def _log2_mixed(expected, actual):
    for got, _, lp, _ in _ppl_pairs(expected, actual):
        mean = lp.mean()
        if any(J.isclose(got, x) for x in (np.exp(-mean / np.log(2)), np.exp(-mean * np.log(2)))):
            return True
    return False


def _no_eos(expected, actual):
    return any(J.isclose(got, np.exp(-lp[~eos].mean())) for got, _, lp, eos
               in _ppl_pairs(expected, actual) if (~eos).any())


def _not_inf(expected, actual):
    """The model itself gives a zero probability, yet the perplexity is not inf."""
    lp, eos = _arr(actual["info"]["logprobs"]), np.asarray(actual["info"]["eos"], bool)
    ends = np.nonzero(eos)[0] + 1
    # a zero probability at a word, not at </s>: a perplexity that drops the </s> tokens must
    # be inf there too, so a finite one is this bug and not that one
    words = np.where(eos, 0.0, lp)
    segments = [words] + np.split(words, ends[:-1])
    got = [actual["ppl"]] + list(actual.get("ppl_each", []))
    return any(np.isneginf(seg).any() and not np.isposinf(g) for seg, g in zip(segments, got))


ppl_hints = [J.Hint(_log2_mixed, PPL_LOG2), J.Hint(_no_eos, PPL_NO_EOS), J.Hint(_not_inf, PPL_INF)]


def ppl_judge(rtol=1e-9):
    keys = ("ppl", "ppl_each")

    def judge(expected, actual):
        score, msgs = 0.0, []
        present = [k for k in keys if k in expected]
        for k in present:
            msg = J.compare(expected[k], actual.get(k), path=k, rtol=rtol, atol=0.0)
            if msg:
                msgs.append(msg)
            else:
                score += 1
        verdict = J.Verdict(score / len(present), "\n".join(msgs))
        return J.with_hints(verdict, ppl_hints, expected, actual)
    return judge


def _log_in_base(base):
    def when(e, a):
        le, la = _arr(e["logscore"]), _arr(a["logscore"])
        fin = np.isfinite(le)
        return (fin.any() and J.isclose(a["score"], e["score"])
                and J.log_base(le[fin], la[fin]) == base)
    return when


logscore_hints = [J.Hint(_log_in_base(b), LOG_BASE.format(b=b)) for b in ("2", "10")] + [
    J.Hint(lambda e, a: np.isneginf(_arr(e["logscore"])).any() and
           not np.isneginf(_arr(a["logscore"])[np.isneginf(_arr(e["logscore"]))]).all(),
           "ln 0 is -inf: logscore of a zero probability must be -inf")]


def logscore_judge():
    return J.fields(score=J.close(), logscore=J.close(), hints=logscore_hints)


def lambdas_judge(expected, actual):
    lam = actual["lambdas"]
    v = J.fields(lambdas=J.close(rtol=1e-3, atol=1e-4), returns_self=J.exact())(expected, actual)
    return J.with_hints(v, [J.Hint(lambda e, a: abs(float(np.sum(lam)) - 1) > 1e-6,
                                     INTERP_SUM)], expected, actual)


def unchanged_judge(expected, actual):
    bad = [k for k, v in actual.items() if v is not True]
    if not bad:
        return J.Verdict(1.0)
    return J.Verdict(1 - len(bad) / len(actual),
                     f"these functions modified their inputs: {bad}. Copy before changing "
                     "(list(sentence) + [...], not sentence.append / insert / extend).")


def _stateful(expected, actual):
    """The draws disagree with a next_distribution that is a distribution: generate is the
    kit's, so the model answered its calls during sampling differently from its calls after."""
    p, drawn = _arr(actual["probs"]), _arr(actual["counts"]).sum(axis=1) > 0
    return bool(np.isfinite(p).all() and (p >= 0).all() and (p.sum(axis=1)[drawn] > 0).all())


# generate draws from the student's model, so the draws are tested against its own
# next_distribution: whether that is the reference's is the exact part's question, and this
# part's verdict never hangs on how close a wrong model happens to come
_own_draws = J.draws_follow(own=True, hints=[J.Hint(_stateful, STATEFUL)])


def _repeat_judge(expected, actual):
    if actual["same_samples"] is not True:
        return J.Verdict(0.0, "two generators with the same seed gave different sentences: "
                              f"{actual['samples'][:2]}...; next_distribution must depend on "
                              "the context alone (no state kept between calls, no randomness "
                              "of its own)")
    if actual["prompt_unchanged"] is not True:
        return J.Verdict(0.0, "the prompt given to generate was modified")
    return J.Verdict(1.0)


def sampling_judge(expected, actual):
    """The model through lmcore.lm.generate: its next_distribution exactly against the
    reference (1/4), each one a distribution over the prediction space (1/4), the first two
    tokens drawn following that distribution statistically (1/4), the same seed giving the same
    sentences (1/4). No part depends on the exact random numbers the sampler draws."""
    parts = [("next_distribution", dist_judge()(expected, actual)),
             ("sums", sums_judge()(expected, actual)),
             ("draws", _own_draws(None, actual["draws"])),
             ("same seed", _repeat_judge(expected, actual))]
    score = sum(v.score for _, v in parts) / len(parts)
    msgs = [v.message for _, v in parts if not v.passed and v.message]
    right = [name for name, v in parts if v.passed]
    if msgs and right:
        msgs.append(J.right_and_wrong(right, [name for name, v in parts if not v.passed]))
    return J.Verdict(score, "\n".join(msgs), tuple(h for _, v in parts for h in v.hints))


# -- modified Kneser-Ney (optional part) -----------------------------------------------------------
MKN_ONE_D = ("your discounts are right but the probabilities are not: modified KN discounts "
             "each count by its own D (D1 for a(h,w) = 1, D2 for 2, D3+ for 3 or more) and "
             "gives back gamma(h) = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / a(h).")
MKN_FALLBACK = ("when some count of counts n_1..n_4 is 0, or some D_j comes out <= 0, the order "
                "must use the fallback discounts (0.5, 1.0, 1.5), and report fallback=True.")


def mkn_values_judge(expected, actual):
    """3/4 for the probabilities, 1/4 for the discounts and fallback flags of every order."""
    dist = dist_judge()(expected, actual)
    disc = J.compare(expected["discounts"], actual["discounts"], path="discounts", rtol=1e-12)
    fb = J.compare(expected["fallback"], actual["fallback"], path="fallback", exact=True)
    score = (3 * dist.score + (disc is None and fb is None)) / 4
    msgs = [m for m in (dist.message, disc, fb) if m]
    # The fallback hint belongs to mkn.formula (counts of counts given): here a wrong fallback
    # flag follows from wrong counts of counts as much as from a wrong fallback rule.
    hints = [MKN_ONE_D] if disc is None and fb is None and not dist.passed else []
    return J.Verdict(score, "\n".join(msgs), tuple(hints))


mkn_formula_judge = J.fields(D=J.close(rtol=1e-12), fallback=J.exact(), unchanged=J.exact(),
                             hints=[J.Hint(lambda e, a: e["fallback"] != a["fallback"],
                                           MKN_FALLBACK)])


# -- corpora and contexts used by the model tests ------------------------------------------------
SAM_CTX = {2: [[], ["i"], ["am"], ["sam"], ["zebra"]],
           3: [[], ["i"], ["i", "am"], ["am", "sam"], ["sam", "i"], ["zebra", "i"],
               ["i", "zebra"]]}
FRISCO_CTX = [[], ["san"], ["the"], ["zebra"]]


def model_test(name, part, model, n, points=2, corpus="sam", kwargs=None, seed=0,
               contexts=None, hints=(), min_count=1, maker=public):
    return maker(name, part=part, points=points, scenario="model_dist", seed=seed,
                 params={"corpus": corpus, "n": n, "model": model, "kwargs": kwargs or {},
                         "min_count": min_count,
                         "contexts": contexts if contexts is not None else SAM_CTX[n]},
                 judge=dist_judge(hints=hints),
                 description=f"{model} order {n} on '{corpus}': every probability of every "
                             "context matches the reference")


def sums_test(name, part, model, n, points=1, corpus="sam", kwargs=None, seed=0, hints=(),
              min_count=1, contexts=None, maker=public):
    return maker(name, part=part, points=points, scenario="model_dist", seed=seed,
                 needs_reference=False,
                 params={"corpus": corpus, "n": n, "model": model, "kwargs": kwargs or {},
                         "min_count": min_count, "n_random": 6,
                         "contexts": contexts if contexts is not None else SAM_CTX[n]},
                 judge=sums_judge(hints),
                 description=f"{model} order {n}: each distribution sums to one over the "
                             "prediction space (seen, unseen and <unk> contexts), 0 at <s>")


def ppl_test(name, part, model, n, points=2, corpus="sam", kwargs=None, n_test=None,
             maker=public, min_count=1, timeout=30.0):
    params = {"corpus": corpus, "n": n, "model": model, "kwargs": kwargs or {},
              "min_count": min_count}
    if n_test is not None:
        params["n_test"] = n_test
    return maker(name, part=part, points=points, scenario="perplexity", params=params,
                 judge=ppl_judge(), timeout=timeout,
                 description=f"perplexity of {model} order {n} on the {corpus} test sentences")


# -- part one: counting and estimating with dicts ------------------------------------------------
DICT_NO_EOS = ("the n-grams that end at </s> are missing: pad every sentence (pad(sentence, n) "
               "adds the one </s>) and count the k-gram that ends at every predicted token, the "
               "</s> included.")
DICT_BOS = ("<s> is only context, never a predicted token: count a k-gram only when its last "
            "token comes after the padding, so (<s>,) and (<s>, <s>) have count 0 and each "
            "context counts the predicted tokens it precedes.")
DICT_UNK = ("words outside the vocabulary count as <unk>, a real word: map each sentence with "
            "vocab.map_unk before counting.")
DICT_KEYS = ("the keys of ngram_counts[k] must be tuples of k tokens, e.g. ('i', 'am'): a list "
             "cannot be a key and a string 'i am' is not the tuple the models look up.")


def _gram(tokens) -> str:
    return "(" + ", ".join(repr(t) for t in tokens) + ("," if len(tokens) == 1 else "") + ")"


def _corpus_words(e) -> str:
    lines = e["corpus"]
    shown = " / ".join(lines[:3]) + (" / ..." if len(lines) > 3 else "")
    return f"counting the {len(lines)} sentences '{shown}' for an order-{e['n']} model"


def _count_mismatches(e, a, key, names, what):
    want, got = np.asarray(e[key]), a.get(key)
    if not isinstance(got, np.ndarray) or got.shape != want.shape:
        return f"{what}: expected {len(want)} counts, got {J.describe(got)}"
    bad = np.nonzero(want != got)[0]
    if not len(bad):
        return None
    lines = [f"{what} of {_gram(e[names][i])}: expected {int(want[i])}, got {int(got[i])}"
             for i in bad[:3]]
    more = f" ({len(bad)} of {len(want)} differ)" if len(bad) > 3 else ""
    return "; ".join(lines) + more


def _ends_with(e, a, last, key="ngram_counts", names="ngrams"):
    want, got = np.asarray(e[key]), np.asarray(a[key])
    rows = [i for i, g in enumerate(e[names]) if g and g[-1] == last]
    return want, got, rows


def _no_eos(e, a):
    want, got, rows = _ends_with(e, a, "</s>")
    rows = [i for i in rows if want[i] > 0]
    return bool(rows) and all(got[i] == 0 for i in rows)


def _bos_counted(e, a):
    _, got, rows = _ends_with(e, a, "<s>")
    return any(got[i] > 0 for i in rows)


def _one_bos_dict(e, a):
    n = e["n"]
    names = [tuple(c) for c in e["contexts"]]
    both = ("<s>",) * (n - 1)
    if n < 3 or both not in names:
        return False
    i = names.index(both)
    return e["context_counts"][i] > 0 and a["context_counts"][i] == 0


def _unk_missing(e, a):
    i = [tuple(g) for g in e["ngrams"]].index(("<unk>",))
    return e["ngram_counts"][i] > 0 and a["ngram_counts"][i] == 0


dict_count_hints = [J.Hint(_no_eos, DICT_NO_EOS), J.Hint(_bos_counted, DICT_BOS),
                    J.Hint(_one_bos_dict, ONE_BOS), J.Hint(_unk_missing, DICT_UNK),
                    J.Hint(lambda e, a: not all(a["keys_ok"]), DICT_KEYS)]


def dict_counts_judge(expected, actual):
    """Exact counts in words: each wrong count named by its n-gram, one third each for the
    n-gram counts, the context counts and the number of distinct n-grams of every order."""
    e, a = expected, actual
    msgs, score = [], 0.0
    for key, names, what in (("ngram_counts", "ngrams", "count"),
                             ("context_counts", "contexts", "context count")):
        msg = _count_mismatches(e, a, key, names, what)
        msgs += [msg] if msg else []
        score += msg is None
    if a["types"] == e["types"]:
        score += 1
    else:
        msgs.append("; ".join(f"distinct {k}-grams counted: expected {w}, got {g}" for k, (w, g)
                              in enumerate(zip(e["types"], a["types"]), start=1) if w != g)
                    or f"distinct n-grams: expected {e['types']}, got {a['types']}")
    if a["unchanged"] is not True:
        msgs.append("dict_counts modified the sentences it was given")
        score = min(score, 2)
    if msgs:
        msgs[0] = f"after {_corpus_words(e)}: {msgs[0]}"
    return J.with_hints(J.Verdict(score / 3, "\n".join(msgs)), dict_count_hints, e, a)


MODEL_WORDS = {"mle": "MLE", "addk": "add-k", "kn": "Kneser-Ney"}


def _off(e, a, key, what):
    """(expected, actual, where they differ) of a float array output, or a message when the
    output is not an array of the expected shape."""
    want, got = _arr(e[key]), a.get(key)
    if not isinstance(got, np.ndarray) or got.shape != want.shape:
        return f"{what}: expected an array of shape {want.shape}, got {J.describe(got)}"
    got = _arr(got)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isclose(got, want, rtol=1e-9, atol=1e-12) | (got == want))
    return want, got, bad


def _dist_words(e, a):
    """The worst wrong probability in words, with the reference's counts behind it."""
    off = _off(e, a, "dist", "next_distribution (one row per context, one column per id)")
    if isinstance(off, str):
        return off
    want, got, bad = off
    if not bad.any():
        return None
    with np.errstate(invalid="ignore"):
        err = np.where(bad, np.nan_to_num(np.abs(got - want), nan=np.inf), -1.0)
    i, j = (int(x) for x in np.unravel_index(int(np.argmax(err)), err.shape))  # the worst one
    info = e["info"]
    w, h = e["words"][j], e["contexts"][i]
    hw = f"{h} {w}" if h != "()" else w
    model = f"the order-{info['n']} {MODEL_WORDS[info['model']]} model of '{info['corpus']}'"
    return (f"P({w} | {h}) of {model}: expected {want[i, j]:.6g}, got {got[i, j]:.6g} (the "
            f"reference counted c({hw}) = {int(info['c_hw'][i][j])} and c({h}) = "
            f"{int(info['c_h'][i])}; {int(bad.sum())} of {bad.size} probabilities differ)")


def _sums_words(e, a):
    p, words = _arr(a["dist"]), e["words"]
    bos = words.index("<s>")
    if (p[:, bos] != 0).any():
        i = int(np.argmax(p[:, bos] != 0))
        return f"P(<s> | {e['contexts'][i]}) = {p[i, bos]:.3g}: <s> is never predicted"
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9) or (p < 0).any():
        i = int(np.argmax(np.abs(sums - 1)))
        return (f"the distribution after {e['contexts'][i]} sums to {sums[i]:.12g}, not 1, "
                f"over the {p.shape[1] - 1} words of the prediction space")
    return None


def _edges_words(e, a):
    off = _off(e, a, "logprobs", "logprobs of the test sentences (every word and one </s> "
                                 "a sentence)")
    if isinstance(off, str):
        return off
    want, got, bad = off
    if bad.any():
        i = int(np.argmax(bad))
        return (f"ln {e['events'][i]}: expected {want[i]:.6g}, got {got[i]:.6g} ({int(bad.sum())} "
                f"of {len(want)} test tokens differ)")
    want, got = e["score"], a.get("score")
    if not isinstance(got, list) or len(got) != len(want):
        return f"score: expected {len(want)} numbers, got {J.describe(got)}"
    for pair, w, g in zip(e["pairs"], want, got):
        if not isinstance(g, (int, float)) or isinstance(g, bool) or not J.isclose(g, w, rtol=1e-9,
                                                                                   atol=1e-12):
            return f"score of {pair}: expected {w:.6g}, got {J.fmt(g)}"
    return None


def dict_model_judge(hints=()):
    """Half for every probability of every context (in words, with the counts behind it), a
    quarter for sums to one and 0 at <s>, a quarter for the edge cases: ln p of the test
    sentences (an empty one, unknown words) and the scores of <s> and of unknown words."""
    def judge(expected, actual):
        parts = [(2, _dist_words(expected, actual)), (1, _sums_words(expected, actual)),
                 (1, _edges_words(expected, actual))]
        score = sum(w for w, msg in parts if msg is None) / 4
        msgs = [msg for _, msg in parts if msg]
        return J.with_hints(J.Verdict(score, "\n".join(msgs)), hints, expected, actual)
    return judge


def dict_agree_judge(e, a):
    """A third for each of MLE, add-k and Kneser-Ney: the student's dict and vectorised
    versions give the same distributions and the same ln p of the test sentences (rtol
    1e-12); the reference only says which of the two is right where they differ."""
    score, msgs = 0.0, []
    for name in ("mle", "addk", "kn"):
        mine = a[name]
        bad = None
        for key in ("dist", "logprobs"):
            d, v = _arr(mine["dict"][key]), _arr(mine["vectorised"][key])
            if d.shape != v.shape:
                bad = f"{key}: shapes {d.shape} (dict) and {v.shape} (vectorised)"
                break
            with np.errstate(invalid="ignore"):
                off = ~(np.isclose(d, v, rtol=1e-12, atol=1e-15) | (d == v))
            if off.any():
                idx = tuple(int(x) for x in np.argwhere(off)[0])
                ref = _arr(e[name]["dict"][key])[idx]
                which = ("the dict one" if J.isclose(d[idx], ref, rtol=1e-9)
                         else "the vectorised one" if J.isclose(v[idx], ref, rtol=1e-9)
                         else "neither")
                where = (f"P({e['words'][idx[1]]} | {e['contexts'][idx[0]]})" if key == "dist"
                         else e["events"][idx[0]])
                fn = "ln " if key == "logprobs" else ""
                bad = (f"{fn}{where}: {d[idx]:.6g} (dict) against {v[idx]:.6g} (vectorised); "
                       f"the reference gives {ref:.6g}, so {which} is right")
                break
        if bad is None:
            score += 1
        else:
            msgs.append(f"{MODEL_WORDS[name]}: your two versions disagree at {bad}")
    return J.Verdict(score / 3, "\n".join(msgs))


def dict_model_test(name, part, model, n, points=3, corpus="sam", kwargs=None, seed=0,
                    contexts=None, hints=(), min_count=1, maker=public):
    return maker(name, part=part, points=points, scenario="dict_model", seed=seed,
                 params={"corpus": corpus, "n": n, "model": model, "kwargs": kwargs or {},
                         "min_count": min_count,
                         "contexts": contexts if contexts is not None else SAM_CTX[n],
                         "pairs": DICT_PAIRS},
                 judge=dict_model_judge(hints),
                 description=f"dict {MODEL_WORDS[model]} order {n} on '{corpus}': every "
                             "probability, sums to one, the test sentences' ln p (an empty "
                             "one and unknown words among them), <s> and <unk>")


DICT_PAIRS = [["<s>", []], ["zebra", []], ["<unk>", []], ["</s>", ["zebra"]]]


TESTS = [
    # part one: counting and estimating with dicts (pad and ngrams come first)
    public("dict.count_bigram", part="dict_counts", points=2, scenario="dict_counting", seed=51,
           params={"corpus": "sam", "n": 2}, judge=dict_counts_judge,
           description="dict_counts(sam, 2): every unigram, bigram and context count"),
    public("dict.count_trigram", part="dict_counts", points=2, scenario="dict_counting",
           seed=52, params={"corpus": "sam", "n": 3}, judge=dict_counts_judge,
           description="dict_counts(sam, 3): counts of every order, (<s>, <s>) included"),
    dict_model_test("dict.mle", "DictMLE", "mle", 2, seed=53),
    dict_model_test("dict.addk", "DictAddK", "addk", 3, kwargs={"k": 0.5}, seed=54,
                    hints=addk_hints(0.5)),
    dict_model_test("dict.kn_bigram", "DictKneserNey", "kn", 2, corpus="frisco",
                    contexts=FRISCO_CTX, seed=55, hints=[kn_raw_hint()]),
    dict_model_test("dict.kn_trigram", "DictKneserNey", "kn", 3, points=2, seed=56),
    public("dict.agree", part="agreement", points=3, scenario="dict_agreement",
           params={"corpus": "frisco", "n": 3, "contexts": FRISCO_CTX + [["in", "san"]]},
           judge=dict_agree_judge,
           description="your dict MLE, add-k and Kneser-Ney give exactly the probabilities of "
                       "your vectorised ones (trigrams on 'frisco')"),
    # padding and n-grams
    public("pad.bigram", part="pad", points=1, scenario="pad_case",
           params={"sentence": ["i", "am", "sam"], "n": 2}, judge=J.fields(
               pad=J.exact(), unchanged=J.exact(), hints=[one_bos_pad_hint]),
           description="pad(['i', 'am', 'sam'], 2): one <s>, one </s>"),
    public("pad.trigram", part="pad", points=1, scenario="pad_case",
           params={"sentence": ["i", "am", "sam"], "n": 3}, judge=J.fields(
               pad=J.exact(), unchanged=J.exact(), hints=[one_bos_pad_hint]),
           description="pad(['i', 'am', 'sam'], 3): two <s>, one </s>"),
    public("ngrams.basic", part="ngrams", points=1, scenario="ngrams_case",
           params={"tokens": ["<s>", "i", "am", "sam", "</s>"], "orders": [1, 2, 3]},
           judge=J.exact(), description="ngrams of orders 1, 2, 3 of a padded sentence"),
    # counting
    public("count.bigram", part="count_ngrams", points=2, scenario="counting", seed=1,
           params={"corpus": "sam", "n": 2}, judge=counts_judge,
           description="count_ngrams(sam, 2): every unigram, bigram and context count"),
    public("count.trigram", part="count_ngrams", points=2, scenario="counting", seed=2,
           params={"corpus": "sam", "n": 3}, judge=counts_judge,
           description="count_ngrams(sam, 3): counts of every order, (<s>, <s>) included"),
    # measurements
    public("measure.hand", part="measurements", points=2, scenario="measurements",
           params={"corpus": "sam", "n": 3},
           judge=J.fields(unseen_rate=J.close(rtol=1e-12), ngrams=J.exact(), bytes=J.exact()),
           description="unseen_rate and table_size on the sam corpus, k = 1..3"),
    # MLE
    model_test("mle.values", "MLE", "mle", 2),
    sums_test("mle.sums", "MLE", "mle", 2),
    # add-k
    model_test("addk.laplace", "AddK", "laplace", 2, hints=addk_hints(1.0)),
    model_test("addk.lidstone", "AddK", "addk", 3, kwargs={"k": 0.5}, hints=addk_hints(0.5)),
    sums_test("addk.sums", "AddK", "addk", 3, kwargs={"k": 0.1}, hints=addk_hints(0.1)),
    # interpolation
    model_test("interp.values", "Interpolated", "interp", 3,
               kwargs={"lambdas": [0.1, 0.2, 0.3, 0.4]}, hints=[interp_sum_hint]),
    public("interp.fit", part="Interpolated", points=2, scenario="interp_fit",
           params={"corpus": "sam", "n": 2}, judge=lambdas_judge,
           description="EM weights of a bigram interpolation fitted on sam's held-out sentences"),
    sums_test("interp.sums", "Interpolated", "interp", 3, hints=[interp_sum_hint]),
    # backoff
    model_test("backoff.bigram", "Backoff", "backoff", 2, hints=[backoff_sum_hint]),
    model_test("backoff.trigram", "Backoff", "backoff", 3, kwargs={"discount": 0.5},
               hints=[backoff_sum_hint]),
    sums_test("backoff.sums", "Backoff", "backoff", 3, hints=[backoff_sum_hint]),
    # stupid backoff
    model_test("stupid.values", "StupidBackoff", "stupid", 3),
    # Kneser-Ney
    model_test("kn.bigram", "KneserNey", "kn", 2, hints=[kn_raw_hint()]),
    model_test("kn.trigram", "KneserNey", "kn", 3),
    model_test("kn.continuation", "KneserNey", "kn", 2, corpus="frisco", contexts=FRISCO_CTX,
               hints=[kn_raw_hint()]),
    sums_test("kn.sums", "KneserNey", "kn", 3),
    # the shared interface
    public("logscore.values", part="logscore", points=3, scenario="scores",
           params={"corpus": "sam", "n": 2, "model": "mle",
                   "pairs": [["am", ["i"]], ["ham", ["i"]], ["i", []], ["</s>", ["sam"]]]},
           judge=logscore_judge(),
           description="score and logscore (natural log, -inf for 0) of an MLE bigram"),
    ppl_test("perplexity.hand", "perplexity", "kn", 2),
    ppl_test("perplexity.inf", "perplexity", "mle", 2, points=1),
    ppl_test("perplexity.real_laplace", "perplexity", "laplace", 2, corpus="shakespeare",
             n_test=2000, min_count=2),
    ppl_test("perplexity.real_kn", "perplexity", "kn", 3, corpus="shakespeare", n_test=2000,
             min_count=2),
    public("sampling.kn", part="sampling", points=2, scenario="sampling", seed=11,
           params={"corpus": "sam", "n": 2, "model": "kn", "prompts": [[], ["zebra"]]},
           judge=sampling_judge,
           description="a KN bigram through lmcore.lm.generate: next_distribution exactly, the "
                       "first two tokens drawn statistically, the same seed the same sentences"),
    public("inputs.unchanged", part="inputs", points=1, scenario="inputs_unchanged",
           judge=unchanged_judge, description="no graded function modifies its inputs"),
    # optional part, pointed separately: modified Kneser-Ney
    public("mkn.formula", part="ModifiedKneserNey", points=1, scenario="mkn_formula", seed=41,
           params={"counts_of_counts": [[10, 4, 2, 1], [40, 15, 9, 6]]}, judge=mkn_formula_judge,
           description="modified_discounts: D1, D2, D3+ from the counts of counts"),
    public("mkn.values", part="ModifiedKneserNey", points=2, scenario="mkn_dist", seed=42,
           params={"corpus": "dogs", "n": 2, "contexts": [[], ["the"], ["a"], ["zebra"]]},
           judge=mkn_values_judge,
           description="modified KN bigram on 'dogs' (no fallback): discounts and every probability"),
    public("mkn.sums", part="ModifiedKneserNey", points=1, scenario="mkn_dist", seed=43,
           params={"corpus": "dogs", "n": 3, "contexts": [[], ["the", "dog"], ["zebra", "a"]],
                   "n_random": 6}, needs_reference=False, judge=sums_judge(),
           description="modified KN trigram: each distribution sums to one"),
]
