"""n-gram language models behind one interface (nltk.lm's names, lmcore's contract).

Every model is built from an ``NgramCounts`` of order n and defines one vectorised method,

    probs(contexts, words) -> (M,) float64
        contexts: (M, n-1) int ids, the n-1 tokens before each word (<s>-padded)
        words: (M,) int ids, never <s>

from which ``NgramModelBase`` (provided) gives ``score(word, context)``,
``distribution(context)``, ``logprobs(sentences)`` and ``next_distribution(context)``; the
class ``NgramLM`` below adds ``logscore`` and ``perplexity``. Sampling is lmcore's, the one
sampler of the course: ``lmcore.lm.generate(model, rng)`` draws from ``next_distribution``.

Notation: h is the context, h' the context without its first token, c(.) a count from
``counts`` (``counts.lookup_counts`` fetches c(h, w) and c(h) for a batch), |V| =
``self.V`` the size of the prediction space (the vocabulary without ``<s>``), N the number of
predicted training tokens, T(h) the number of distinct words seen after h. The order-k
estimate uses the last k-1 tokens of the context.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import NgramCounts, NgramModelBase


class NgramLM(NgramModelBase):
    """The methods every model shares, written once on top of ``score`` and ``logprobs``."""

    def logscore(self, word: str, context: Sequence[str] = ()) -> float:
        """ln P(word | context) (natural log); ``-inf`` where the probability is 0."""
        ### BEGIN SOLUTION
        p = self.score(word, context)
        return float(np.log(p)) if p > 0 else -np.inf
        ### END SOLUTION

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """exp(-(1/N) sum ln p) over every predicted token of ``sentences``: each word and one
        ``</s>`` per sentence, never ``<s>`` (N = sum(len(s) + 1)). A zero probability makes
        it ``inf`` (not an error); no sentence at all is an error."""
        ### BEGIN SOLUTION
        # HINT: self.logprobs(sentences) gives ln p of every predicted token, </s> included.
        if len(sentences) == 0:
            raise ValueError("perplexity of no sentence is undefined")
        lp = self.logprobs(sentences)
        if np.isneginf(lp).any():
            return float("inf")
        return float(np.exp(-lp.mean()))
        ### END SOLUTION


class MLE(NgramLM):
    """Maximum likelihood: P(w | h) = c(h, w) / c(h).

    An unseen context (c(h) = 0) has no estimate; we return the uniform 1/|V| there so that
    every context still has a distribution."""

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        c_hw, c_h = self.counts.lookup_counts(contexts, words, self.order)
        with np.errstate(divide="ignore", invalid="ignore"):  # leak-check: public (numpy idiom)
            return np.where(c_h > 0, c_hw / np.maximum(c_h, 1), 1.0 / self.V)
        ### END SOLUTION


class AddK(NgramLM):
    """Add-k (Lidstone) smoothing: P(w | h) = (c(h, w) + k) / (c(h) + k |V|).

    |V| is the prediction space: ``<s>`` is never predicted, so it is not in |V|."""

    def __init__(self, counts: NgramCounts, k: float = 1.0):
        super().__init__(counts)
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = float(k)

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        # HINT: add-k adds k to the count of every word after h, seen or not: what does that do
        # HINT: to the total count of h?
        c_hw, c_h = self.counts.lookup_counts(contexts, words, self.order)
        return (c_hw + self.k) / (c_h + self.k * self.V)
        ### END SOLUTION


class Laplace(AddK):
    """Add-one smoothing: add-k with k = 1."""

    def __init__(self, counts: NgramCounts):
        super().__init__(counts, k=1.0)


class Interpolated(NgramLM):
    """Linear interpolation (Jelinek-Mercer) of the uniform distribution and the MLE of
    every order:

        P(w | h) = lambdas[0] / |V| + sum_{k=1..n} lambdas[k] * P_MLE_k(w | last k-1 of h)

    where P_MLE_k is the order-k MLE, uniform where its context is unseen (as ``MLE``).
    ``lambdas``: (n+1,) non-negative, summing to one; uniform until ``fit``.
    """

    def __init__(self, counts: NgramCounts, lambdas: Sequence[float] | None = None):
        super().__init__(counts)
        n = self.order
        lam = np.full(n + 1, 1.0 / (n + 1)) if lambdas is None else np.array(lambdas, float)
        if lam.shape != (n + 1,) or (lam < 0).any() or abs(lam.sum() - 1) > 1e-9:
            raise ValueError(f"lambdas must be {n + 1} non-negative weights summing to 1, "
                             f"got {lam.tolist()}")
        self.lambdas = lam

    def components(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Each component's probability of each word: (M, n+1) float64, column 0 the
        uniform 1/|V|, column k the order-k MLE."""
        ### BEGIN SOLUTION
        cols = [np.full(len(words), 1.0 / self.V)]
        for k in range(1, self.order + 1):
            c_hw, c_h = self.counts.lookup_counts(contexts, words, k)
            cols.append(np.where(c_h > 0, c_hw / np.maximum(c_h, 1), 1.0 / self.V))
        return np.column_stack(cols)
        ### END SOLUTION

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        return self.components(contexts, words) @ self.lambdas
        ### END SOLUTION

    def fit(self, heldout: Sequence[Sequence[str]], max_iter: int = 500,
            tol: float = 1e-10) -> "Interpolated":
        """Fit ``lambdas`` to maximise the likelihood of held-out sentences, by EM.

        Start from uniform weights. One EM step: with q[t, k] = lambdas[k] * P_k(w_t | h_t),
        each token's responsibilities are r[t, k] = q[t, k] / sum_k q[t, k], and the new
        lambdas[k] is the mean of r[:, k] over the M held-out tokens (so they sum to one).
        Stop when no weight moves by more than ``tol``, or after ``max_iter`` steps (the
        likelihood is concave in the weights, so EM reaches the one maximum).
        Returns self.
        """
        ### BEGIN SOLUTION
        # HINT: self.events(heldout) gives every held-out token with its context.
        contexts, words = self.events(heldout)
        comps = self.components(contexts, words)
        lam = np.full(self.order + 1, 1.0 / (self.order + 1))
        for _ in range(max_iter):
            q = comps * lam
            new = (q / q.sum(axis=1, keepdims=True)).mean(axis=0)
            done = np.abs(new - lam).max() <= tol
            lam = new
            if done:
                break
        self.lambdas = lam
        return self
        ### END SOLUTION


class Backoff(NgramLM):
    """Backoff with absolute discounting, normalised Katz-style.

    For the highest order n down to 2, with one discount D (0 < D <= 1):

        P_k(w | h) = (c(h, w) - D) / c(h)            if c(h, w) > 0
                   = alpha(h) * P_{k-1}(w | h')       if c(h, w) = 0 and c(h) > 0
                   = P_{k-1}(w | h')                  if c(h) = 0 (unseen context)

        alpha(h) = (D * T(h) / c(h)) / (1 - sum_{w: c(h, w) > 0} P_{k-1}(w | h'))

    so the mass D * T(h) / c(h) taken from the seen words goes to the unseen ones in
    proportion to the lower order, and every distribution sums to one. The lowest order is
    the discounted unigram interpolated with the uniform distribution (so it sums to one even
    when every word was seen):

        P_1(w) = max(c(w) - D, 0) / N + (D * T / N) / |V|,   T = number of distinct words.

    (If a context were followed by every word of the prediction space, the denominator of
    alpha would be 0; alpha is then 0 and that context keeps only its discounted counts.)
    """

    def __init__(self, counts: NgramCounts, discount: float = 0.75):
        super().__init__(counts)
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.discount = float(discount)
        ### BEGIN SOLUTION
        # HINT: compute alpha for every context once, here, order by order from 2 to n:
        # HINT: sum the lower-order probabilities of the words seen after each context.
        D, idx = self.discount, counts.index
        self.alpha = [None, None]        # alpha[k]: (index.size(k-1),) over context codes
        for k in range(2, self.order + 1):
            seen = np.nonzero(counts.ngram_counts[k] > 0)[0]
            grams = idx.grams(k)[seen]
            lower = self._order_probs(grams[:, :-1], grams[:, -1], k - 1)
            ctx = idx.prefix_codes(k)[seen]
            size = idx.size(k - 1)
            lower_seen = np.bincount(ctx, weights=lower, minlength=size)
            types = np.bincount(ctx, minlength=size)
            c_h = counts.context_counts[k]
            left = np.where(c_h > 0, D * types / np.maximum(c_h, 1), 0.0)
            room = 1.0 - lower_seen
            self.alpha.append(np.where(room > 1e-12, left / np.where(room > 1e-12, room, 1), 0.0))
        ### END SOLUTION

    def _order_probs(self, contexts: np.ndarray, words: np.ndarray, k: int) -> np.ndarray:
        """P_k(w | last k-1 tokens of each context): (M,)."""
        ### BEGIN SOLUTION
        D, counts = self.discount, self.counts
        if k == 1:
            N = counts.context_counts[1][0]
            T = np.count_nonzero(counts.ngram_counts[1])
            c_w = counts.ngram_counts[1][words]
            return np.maximum(c_w - D, 0) / N + D * T / N / self.V
        c_hw, c_h = counts.lookup_counts(contexts, words, k)
        _, h = counts.codes(contexts, words, k)
        lower = self._order_probs(contexts, words, k - 1)
        alpha = self.alpha[k][np.maximum(h, 0)]
        return np.where(c_hw > 0, (c_hw - D) / np.maximum(c_h, 1),
                        np.where(c_h > 0, alpha * lower, lower))
        ### END SOLUTION

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        return self._order_probs(contexts, words, self.order)


class StupidBackoff(NgramLM):
    """Stupid backoff (Brants et al., 2007): a *score*, not a probability distribution.

        S_k(w | h) = c(h, w) / c(h)              if c(h, w) > 0
                   = alpha * S_{k-1}(w | h')     otherwise
        S_1(w)     = c(w) / N

    The scores after a context do not sum to one (usually to more), so its "perplexity" is
    not a perplexity: it is reported for comparison only, and its samples draw from the
    normalised scores.
    """

    def __init__(self, counts: NgramCounts, alpha: float = 0.4):
        super().__init__(counts)
        self.alpha = float(alpha)

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        c_w, N = self.counts.lookup_counts(contexts, words, 1)
        s = c_w / N
        for k in range(2, self.order + 1):
            c_hw, c_h = self.counts.lookup_counts(contexts, words, k)
            s = np.where(c_hw > 0, c_hw / np.maximum(c_h, 1), self.alpha * s)
        return s
        ### END SOLUTION


class KneserNey(NgramLM):
    """Interpolated Kneser-Ney (Chen and Goodman, 1998), one absolute discount per order.

    The highest order n uses the raw counts c; every lower order k < n uses the continuation
    counts N1+(. g) = the number of distinct words v with c(v g) > 0 at order k+1, for each
    k-gram g. With a(h, w) those counts at order k, a(h) = sum_w a(h, w) and
    T(h) = |{w : a(h, w) > 0}|:

        P_k(w | h) = max(a(h, w) - D_k, 0) / a(h) + (D_k * T(h) / a(h)) * P_{k-1}(w | h')
                   = P_{k-1}(w | h')                  where a(h) = 0 (unseen context)
        P_0(w)     = 1 / |V|                          (uniform over the prediction space)

    ``discount``: one D for every order, or a sequence of n discounts (D_1, ..., D_n).

    After ``__init__``, for each order k = 1..n (index 0 unused), ``ModifiedKneserNey``
    builds on these attributes:

    - ``self.a[k]``: float64 array of shape (index.size(k),), a(h, w) of every k-gram: the raw
      counts at k = n, the continuation counts below;
    - ``self.a_h[k]``: shape (index.size(k-1),), a(h), their sum per context h;
    - ``self.types[k]``: shape (index.size(k-1),), T(h), the number of words w with a(h, w) > 0.
    """

    def __init__(self, counts: NgramCounts, discount: float | Sequence[float] = 0.75):
        super().__init__(counts)
        n = self.order
        d = np.full(n, float(discount)) if np.ndim(discount) == 0 else np.array(discount, float)
        if d.shape != (n,) or (d <= 0).any() or (d > 1).any():
            raise ValueError(f"discount must be one value or {n} values in (0, 1], got {discount}")
        self.discounts = d              # discounts[k-1] = D_k
        ### BEGIN SOLUTION
        # HINT: a lower-order k-gram g's continuation count is how many (k+1)-grams (v, g)
        # HINT: were seen: index.suffix_codes(k + 1) maps each (k+1)-gram to g's code.
        idx = counts.index
        self.a = [None] * (n + 1)        # a[k]: (index.size(k),) counts used at order k
        self.a_h = [None] * (n + 1)      # a_h[k]: (index.size(k-1),) their sum per context
        self.types = [None] * (n + 1)    # types[k]: (index.size(k-1),) T(h)
        for k in range(n, 0, -1):
            if k == n:
                a = counts.ngram_counts[k]
            else:
                seen = counts.ngram_counts[k + 1] > 0
                a = np.bincount(idx.suffix_codes(k + 1)[seen], minlength=idx.size(k))
            prefix = idx.prefix_codes(k)
            self.a[k] = a.astype(np.float64)
            self.a_h[k] = np.bincount(prefix, weights=a, minlength=idx.size(k - 1))
            self.types[k] = np.bincount(prefix, weights=a > 0, minlength=idx.size(k - 1))
        ### END SOLUTION

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        # HINT: build the estimate bottom-up, from the uniform P_0 to P_n.
        p = np.full(len(words), 1.0 / self.V)
        for k in range(1, self.order + 1):
            D = self.discounts[k - 1]
            g, h = self.counts.codes(contexts, words, k)
            a_hw = np.where(g >= 0, self.a[k][np.maximum(g, 0)], 0.0)
            a_h = np.where(h >= 0, self.a_h[k][np.maximum(h, 0)], 0.0)
            T = np.where(h >= 0, self.types[k][np.maximum(h, 0)], 0.0)
            safe = np.maximum(a_h, 1e-300)
            p = np.where(a_h > 0, np.maximum(a_hw - D, 0) / safe + D * T / safe * p, p)
        return p
        ### END SOLUTION


# -- optional part: modified Kneser-Ney --------------------------------------------------------
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)   # KenLM's --discount_fallback defaults


def modified_discounts(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """Chen and Goodman's three discounts (D1, D2, D3+) from the counts of counts of ``a``.

    With n_j the number of entries of ``a`` equal to j (j = 1..4) and
    Y = n_1 / (n_1 + 2 n_2):

        D_j = j - (j + 1) * Y * n_{j+1} / n_j,   j = 1, 2, 3   (D_3 is used for counts >= 3)

    Fallback (KenLM's): when some n_j (j = 1..4) is 0 the formula is undefined, and when some
    D_j comes out <= 0 it would add mass instead of discounting; in either case the order uses
    ``FALLBACK_DISCOUNTS`` = (0.5, 1.0, 1.5) instead.

    Inputs:
    - a: (K,) the counts used at one order (raw or continuation), zeros allowed

    Returns a tuple of:
    - D: (3,) float64, (D1, D2, D3+)
    - fallback: True when ``FALLBACK_DISCOUNTS`` were used
    """
    ### BEGIN SOLUTION
    a = np.asarray(a)
    n1, n2, n3, n4 = (float(np.count_nonzero(a == j)) for j in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return np.array(FALLBACK_DISCOUNTS), True
    Y = n1 / (n1 + 2 * n2)
    D = np.array([1 - 2 * Y * n2 / n1, 2 - 3 * Y * n3 / n2, 3 - 4 * Y * n4 / n3])
    if (D <= 0).any():
        return np.array(FALLBACK_DISCOUNTS), True
    return D, False
    ### END SOLUTION


class ModifiedKneserNey(KneserNey):
    """Interpolated modified Kneser-Ney (Chen and Goodman, 1998): as ``KneserNey`` (raw counts
    at the highest order, continuation counts below, uniform at the bottom) but with three
    discounts per order, chosen by the count being discounted:

        P_k(w | h) = max(a(h, w) - D_k(a(h, w)), 0) / a(h) + gamma(h) * P_{k-1}(w | h')
        gamma(h)   = (D_k1 N1(h) + D_k2 N2(h) + D_k3+ N3+(h)) / a(h)

    where D_k(c) is 0, D_k1, D_k2 or D_k3+ for c = 0, 1, 2 or >= 3, and N_j(h) the number of
    words with a(h, w) = j (N3+: >= 3). Each order's discounts come from the counts of counts
    of that order's a (``modified_discounts``). ``self.discounts``: (n, 3), row k-1 for order
    k; ``self.fallback``: (n,) bool, which orders used the fallback.
    """

    def __init__(self, counts: NgramCounts):
        super().__init__(counts)      # the raw and continuation counts a, a(h), T(h)
        n = self.order
        ### BEGIN SOLUTION
        # HINT: self.a[k] holds the counts of order k; count, per context, the words seen
        # HINT: once, twice and three times or more (np.bincount with weights).
        idx = counts.index
        rows = [modified_discounts(self.a[k]) for k in range(1, n + 1)]
        self.discounts = np.array([d for d, _ in rows])
        self.fallback = np.array([f for _, f in rows])
        self.n_by_count = [None] * (n + 1)    # [k]: (3, index.size(k-1)) N1, N2, N3+ per h
        for k in range(1, n + 1):
            a, prefix = self.a[k], idx.prefix_codes(k)
            self.n_by_count[k] = np.stack([
                np.bincount(prefix, weights=a == 1, minlength=idx.size(k - 1)),
                np.bincount(prefix, weights=a == 2, minlength=idx.size(k - 1)),
                np.bincount(prefix, weights=a >= 3, minlength=idx.size(k - 1))])
        ### END SOLUTION

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ### BEGIN SOLUTION
        p = np.full(len(words), 1.0 / self.V)
        for k in range(1, self.order + 1):
            D1, D2, D3 = self.discounts[k - 1]
            g, h = self.counts.codes(contexts, words, k)
            hc = np.maximum(h, 0)
            a_hw = np.where(g >= 0, self.a[k][np.maximum(g, 0)], 0.0)
            a_h = np.where(h >= 0, self.a_h[k][hc], 0.0)
            N1, N2, N3 = (np.where(h >= 0, self.n_by_count[k][j][hc], 0.0) for j in range(3))
            d = np.select([a_hw == 0, a_hw == 1, a_hw == 2], [0.0, D1, D2], D3)
            safe = np.maximum(a_h, 1e-300)
            gamma = (D1 * N1 + D2 * N2 + D3 * N3) / safe
            p = np.where(a_h > 0, np.maximum(a_hw - d, 0) / safe + gamma * p, p)
        return p
        ### END SOLUTION
