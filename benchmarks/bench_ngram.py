"""Our interpolated Kneser-Ney trigram against NLTK's ``KneserNeyInterpolated``, side by side.

    python benchmarks/bench_ngram.py [--words 300] [--order 3] [--discount 0.75]

Both models are trained on the same sentences of the Shakespeare training split, padded the
same way (n-1 ``<s>``, one ``</s>``), with the vocabulary handling aligned: tokens outside the
training vocabulary (min_count 2) are replaced by ``<unk>`` before either model sees them, so
NLTK's own vocabulary lookup changes nothing. Both score the same fixed prefix of the test
split (its first ``--words`` predicted tokens). Printed: the time to train, the time to score
the prefix (ours: the best of several repeats), the speed ratio, and the largest difference
between the two models' probabilities.

Where the conventions differ (and so the probabilities do), exactly:
1. The lowest order. Ours (Chen and Goodman): the continuation unigram is discounted by D_1 and
   interpolated with the uniform distribution over the prediction space. NLTK: the plain
   continuation unigram N1+(. w) / N1+(. .), no discount and no uniform term.
2. ``<s>``. NLTK counts every k-gram of the padded sentence, so it also has the bigram
   (<s>, <s>) and the unigrams (<s>,): ``<s>`` gets a continuation count and a probability
   (it is in NLTK's prediction space, not in ours), N1+(. .) has one more bigram type, and the
   back-off weight after the bigram context (<s>,) counts <s> as one more follower type. That
   extra weight is why NLTK's distributions after <s> sum to more than one (docs/design.md).
Everything else (the highest order's raw counts, the continuation counts of the middle orders,
one discount per order, full back-off from an unseen context) is the same model. To show it,
the benchmark also rebuilds NLTK's conventions from our count arrays ("ours, NLTK's
conventions") and reports its difference from NLTK, which is rounding error.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "solutions"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from a1_ngram.counts import count_ngrams  # noqa: E402
from a1_ngram.models import KneserNey  # noqa: E402
from lmcore.corpus import load_shakespeare  # noqa: E402
from lmcore.vocab import BOS, EOS, Vocab  # noqa: E402


def nltk_conventions(kn: KneserNey, contexts: np.ndarray, words: np.ndarray,
                     bos_id: int) -> np.ndarray:
    """P(w | h) of NLTK's KneserNeyInterpolated, computed from our KN's arrays (items 1 and 2
    of the module docstring): plain continuation unigram over N1+(. .) + 1 bigram types, and
    one more follower type after the bigram context (<s>,)."""
    counts = kn.counts
    is_bos = words == bos_id
    cont_bos = 1.0                                     # (<s>, <s>): one left context of <s>
    a1 = np.where(is_bos, cont_bos, kn.a[1][np.where(is_bos, 0, words)])
    p = a1 / (kn.a_h[1][0] + 1)
    for k in range(2, kn.order + 1):
        D = kn.discounts[k - 1]
        g, h = counts.codes(contexts, words, k)
        a_hw = np.where((g >= 0) & ~is_bos, kn.a[k][np.maximum(g, 0)], 0.0)
        a_h = np.where(h >= 0, kn.a_h[k][np.maximum(h, 0)], 0.0)
        T = np.where(h >= 0, kn.types[k][np.maximum(h, 0)], 0.0)
        if k < kn.order:   # NLTK's gamma counts the followers of h in its raw k-gram counts
            ctx_all_bos = (contexts[:, contexts.shape[1] - (k - 1):] == bos_id).all(axis=1)
            T = T + ctx_all_bos
            # the raw bigram (<s>, <s>) is seen, so <s> is a follower with no continuation
        safe = np.maximum(a_h, 1e-300)
        p = np.where(a_h > 0, np.maximum(a_hw - D, 0) / safe + D * T / safe * p, p)
    return p


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=300, help="predicted tokens of the test prefix")
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--discount", type=float, default=0.75)
    ap.add_argument("--repeats", type=int, default=20, help="repeats of our scoring (best kept)")
    args = ap.parse_args(argv)
    n = args.order

    from nltk.lm import KneserNeyInterpolated
    from nltk.util import everygrams

    train, test = load_shakespeare("train"), load_shakespeare("test")
    vocab = Vocab.build(train, min_count=2)
    train_unk = [vocab.map_unk(s) for s in train]
    prefix: list[list[str]] = []
    total = 0
    for s in test:   # whole sentences until the prefix holds --words predicted tokens
        if total >= args.words:
            break
        prefix.append(vocab.map_unk(s))
        total += len(s) + 1

    # -- ours ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    ours = KneserNey(count_ngrams(train, n, vocab), discount=args.discount)
    ours_fit = time.perf_counter() - t0
    ours_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        p_ours = np.exp(ours.logprobs(prefix))
        ours_times.append(time.perf_counter() - t0)
    ours_score = min(ours_times)
    t0 = time.perf_counter()
    full_ppl = ours.perplexity(test)
    ours_full = time.perf_counter() - t0
    n_full = sum(len(s) + 1 for s in test)

    # -- NLTK, on the same padded sentences --------------------------------------------------
    def padded(s):
        return [BOS] * (n - 1) + list(s) + [EOS]

    t0 = time.perf_counter()
    nltk_lm = KneserNeyInterpolated(n, discount=args.discount)
    nltk_lm.fit((everygrams(padded(s), max_len=n) for s in train_unk),
                (t for s in train_unk for t in padded(s)))
    nltk_fit = time.perf_counter() - t0
    contexts, words = ours.events(prefix)
    itos = vocab.itos
    t0 = time.perf_counter()
    p_nltk = np.array([nltk_lm.score(itos[w], [itos[i] for i in c])
                       for c, w in zip(contexts, words)])
    nltk_score = time.perf_counter() - t0

    p_replica = nltk_conventions(ours, contexts, words, vocab.bos_id)
    diff = np.abs(p_ours - p_nltk)
    worst = int(np.argmax(diff))
    after_bos = contexts[:, -1] == vocab.bos_id
    ids = np.arange(len(vocab))
    bos_ctx = np.full((len(vocab), n - 1), vocab.bos_id)
    nltk_sum = nltk_conventions(ours, bos_ctx, ids, vocab.bos_id).sum()
    one_bos = bos_ctx.copy()    # an unseen first token: NLTK's score(w, ['<s>'])
    one_bos[:, :-1] = vocab.unk_id
    nltk_sum1 = nltk_conventions(ours, one_bos, ids, vocab.bos_id).sum() if n > 2 else nltk_sum

    M = len(words)
    print(f"Kneser-Ney, order {n}, D = {args.discount}; Shakespeare train "
          f"({sum(len(s) + 1 for s in train):,} predicted tokens), test prefix of {M} tokens "
          f"({len(prefix)} sentences)")
    print(f"  train:  ours {ours_fit:6.2f} s   NLTK {nltk_fit:6.2f} s")
    print(f"  score:  ours {ours_score * 1e3:8.3f} ms ({ours_score / M * 1e6:7.2f} us/word)   "
          f"NLTK {nltk_score:7.2f} s ({nltk_score / M * 1e3:6.1f} ms/word)")
    print(f"  speed ratio on the prefix (NLTK time / ours): {nltk_score / ours_score:,.0f}x")
    print(f"  ours on the whole test split: {n_full:,} tokens in {ours_full:.3f} s "
          f"({ours_full / n_full * 1e6:.2f} us/word), perplexity {full_ppl:.2f}")
    print(f"  max |P_ours - P_NLTK| = {diff.max():.3e} (token {M and worst}: "
          f"{itos[words[worst]]!r} after {[itos[i] for i in contexts[worst]]}); "
          f"after <s>: {diff[after_bos].max() if after_bos.any() else 0:.3e}, "
          f"elsewhere: {diff[~after_bos].max() if (~after_bos).any() else 0:.3e}")
    print(f"  max |P_ours with NLTK's conventions - P_NLTK| = "
          f"{np.abs(p_replica - p_nltk).max():.3e}   (the same model otherwise)")
    print(f"  NLTK's distribution after {(BOS,) * (n - 1)} sums to {nltk_sum:.6f}, after "
          f"('<s>',) to {nltk_sum1:.6f} (ours: {ours.distribution([]).sum():.12f} and "
          f"{ours.probs(one_bos[ids != vocab.bos_id], ids[ids != vocab.bos_id]).sum():.12f})")


if __name__ == "__main__":
    main()
