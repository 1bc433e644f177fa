"""Modified Kneser-Ney (issue 11): fit a 5-gram on the Shakespeare train split and score the
test split, timed end to end, beside single-discount KN of the same order in the same run.

    python benchmarks/bench_mkn.py [--order 5] [--repeats 1]

Goal: fit + score under 15 s on the course machine (2 cores). Prints both models' times, their
test perplexities, and the discounts modified KN estimated from the counts of counts.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "solutions"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from a1_ngram.counts import count_ngrams  # noqa: E402
from a1_ngram.models import KneserNey, ModifiedKneserNey  # noqa: E402
from lmcore.corpus import load_shakespeare  # noqa: E402
from lmcore.vocab import Vocab  # noqa: E402


def timed(model_cls, train, test, vocab, order):
    t0 = time.perf_counter()
    model = model_cls(count_ngrams(train, order, vocab))
    t1 = time.perf_counter()
    ppl = model.perplexity(test)
    t2 = time.perf_counter()
    return model, t1 - t0, t2 - t1, ppl


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--order", type=int, default=5)
    args = ap.parse_args()
    train, test = load_shakespeare("train"), load_shakespeare("test")
    vocab = Vocab.build(train, min_count=2)
    rows = []
    for cls in (KneserNey, ModifiedKneserNey):
        model, fit, score, ppl = timed(cls, train, test, vocab, args.order)
        rows.append((cls.__name__, fit, score, ppl))
        if cls is ModifiedKneserNey:
            discounts = getattr(model, "discounts", None)
    print(f"{args.order}-gram on Shakespeare (train {sum(map(len, train)):,} tokens, "
          f"test {sum(map(len, test)):,} tokens + </s>)")
    print(f"{'model':<20}{'fit s':>8}{'score s':>9}{'total s':>9}{'test ppl':>10}")
    for name, fit, score, ppl in rows:
        print(f"{name:<20}{fit:>8.2f}{score:>9.2f}{fit + score:>9.2f}{ppl:>10.1f}")
    total = rows[1][1] + rows[1][2]
    print(f"modified KN fit+score: {total:.2f} s (goal < 15 s: {'met' if total < 15 else 'MISSED'}); "
          f"ratio to single-discount KN: {total / (rows[0][1] + rows[0][2]):.2f}x")
    if discounts is not None:
        print("discounts per order (D1, D2, D3+):")
        for k, d in enumerate(discounts, start=1):
            print(f"  order {k}: " + ", ".join(f"{float(x):.3f}" for x in d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
