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
        raise NotImplementedError("NgramLM.logscore: write this part")

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """exp(-(1/N) sum ln p) over every predicted token of ``sentences``: each word and one
        ``</s>`` per sentence, never ``<s>`` (N = sum(len(s) + 1)). A zero probability makes
        it ``inf`` (not an error); no sentence at all is an error."""
        # Hint: self.logprobs(sentences) gives ln p of every predicted token, </s> included.
        raise NotImplementedError("NgramLM.perplexity: write this part")


class MLE(NgramLM):
    """Maximum likelihood: P(w | h) = c(h, w) / c(h).

    An unseen context (c(h) = 0) has no estimate; we return the uniform 1/|V| there so that
    every context still has a distribution."""

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        raise NotImplementedError("MLE.probs: write this part")


class AddK(NgramLM):
    """Add-k (Lidstone) smoothing: P(w | h) = (c(h, w) + k) / (c(h) + k |V|).

    |V| is the prediction space: ``<s>`` is never predicted, so it is not in |V|."""

    def __init__(self, counts: NgramCounts, k: float = 1.0):
        super().__init__(counts)
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = float(k)

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        # Hint: add-k adds k to the count of every word after h, seen or not: what does that do
        # Hint: to the total count of h?
        raise NotImplementedError("AddK.probs: write this part")


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
        raise NotImplementedError("Interpolated.components: write this part")

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        raise NotImplementedError("Interpolated.probs: write this part")

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
        # Hint: self.events(heldout) gives every held-out token with its context.
        raise NotImplementedError("Interpolated.fit: write this part")


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
        # Hint: compute alpha for every context once, here, order by order from 2 to n:
        # Hint: sum the lower-order probabilities of the words seen after each context.
        raise NotImplementedError("Backoff.__init__: write this part")

    def _order_probs(self, contexts: np.ndarray, words: np.ndarray, k: int) -> np.ndarray:
        """P_k(w | last k-1 tokens of each context): (M,)."""
        raise NotImplementedError("Backoff._order_probs: write this part")

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
        raise NotImplementedError("StupidBackoff.probs: write this part")


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
        # Hint: a lower-order k-gram g's continuation count is how many (k+1)-grams (v, g)
        # Hint: were seen: index.suffix_codes(k + 1) maps each (k+1)-gram to g's code.
        raise NotImplementedError("KneserNey.__init__: write this part")

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        # Hint: build the estimate bottom-up, from the uniform P_0 to P_n.
        raise NotImplementedError("KneserNey.probs: write this part")


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
    raise NotImplementedError("modified_discounts: write this part")


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
        # Hint: self.a[k] holds the counts of order k; count, per context, the words seen
        # Hint: once, twice and three times or more (np.bincount with weights).
        raise NotImplementedError("ModifiedKneserNey.__init__: write this part")

    def probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        raise NotImplementedError("ModifiedKneserNey.probs: write this part")
