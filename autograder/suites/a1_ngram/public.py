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


def addk_hints(k):
    def no_v(e, a):
        rows, cols = _seen_rows(e), _pred_cols(e)
        alt = _addk_alt(e, k, with_v=False)
        return rows.any() and J.isclose(_arr(a["dist"])[rows][:, cols], alt[rows][:, cols])

    def bos(e, a):
        cols = _pred_cols(e)
        return J.isclose(_arr(a["dist"])[:, cols], _addk_alt(e, k, extra_v=1)[:, cols])
    return [J.Hint(no_v, ADDK_NO_V), J.Hint(bos, BOS_IN_V)]


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


def samples_judge(expected, actual):
    v = J.compare(expected["samples"], actual["samples"], path="samples", exact=True)
    if v is None and actual["prompt_unchanged"] is True:
        return J.Verdict(1.0)
    # No hint: a wrong sample follows from any wrong distribution as much as from the
    # sampling loop, so nothing here can tell which one the student got wrong.
    return J.Verdict(0.0, v or "generate modified the prompt it was given")


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


TESTS = [
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
    public("generate.kn", part="generate", points=2, scenario="generate", seed=11,
           params={"corpus": "sam", "n": 2, "model": "kn"}, judge=samples_judge,
           description="seeded samples of a KN bigram match the reference token for token"),
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
