"""Scenarios of a4_torch: sampling.py, and sentences drawn by lmcore.lm.generate through
TorchLM.next_distribution (models.py)."""
from __future__ import annotations

import numpy as np
import torch
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F
from autograder.suites.a4_torch.scenarios.common import _np, _setup
from autograder.suites.a4_torch.scenarios.train import _tiny_model


# -- sampling.py ------------------------------------------------------------------------------
def probs_case(sub, rng, N=2, V=9, temperature=1.0, top_k=None, scale=2.0):
    """next_token_probs on random float64 logits."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * scale)
    copy = logits.clone()
    probs = sub.sampling.next_token_probs(logits, temperature, top_k)
    return {"probs": _np(probs), "inputs_unchanged": bool(torch.equal(logits, copy))}


def sample_case(sub, rng, N=3, V=8, draws=2000, temperature=0.8, top_k=None):
    """sample_next with a seeded torch.Generator on ``draws`` copies of each of N rows of
    logits: the counts of the drawn ids per row (judged against the reference's
    next_token_probs by a statistical test), the same draws again after re-seeding
    (reproducibility), and no <s>."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * 2.0)
    seed = int(rng.integers(2**31))
    batch = logits.repeat_interleave(draws, dim=0)           # (N * draws, V), row r first
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(seed)
        runs.append(_np(sub.sampling.sample_next(batch, g, temperature, top_k)).astype(np.int64))
    first, again = runs
    if first.shape != (N * draws,):
        raise ValueError(f"sample_next returned shape {first.shape} for logits of shape "
                         f"{tuple(batch.shape)}; expected ({N * draws},): one id per row")
    if first.min() < 0 or first.max() >= V:
        raise ValueError(f"sample_next returned ids outside [0, {V}): {first.min()}..{first.max()}")
    counts = np.stack([np.bincount(first[r * draws:(r + 1) * draws], minlength=V)
                       for r in range(N)])
    probs = _np(sub.sampling.next_token_probs(logits, temperature, top_k))
    return {"draws": {"counts": counts, "probs": probs},
            "reproducible": bool(np.array_equal(first, again)),
            "never_bos": bool((first != Vocab.bos_id).all())}


# -- whole sentences: lmcore.lm.generate over TorchLM -------------------------------------------
def generate_case(sub, rng, corpus="verse", prompt="to be", temperature=0.8, top_k=None,
                  n=500, dropout=0.0):
    """lmcore.lm.generate over the student's TorchLM around a known-good model: the
    distribution after the prompt (``next``), the counts of the first two drawn tokens
    (judged against the reference's distributions) and reproducibility from one seed. With
    ``dropout`` the model is handed over in training mode (as after train_epoch);
    ``next_eval`` is the distribution when the scenario itself has put the model in eval
    mode first."""
    _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    model = _tiny_model(rng, len(vocab), E=6, H=8, dropout=dropout)
    lm = sub.models.TorchLM(model, vocab)
    words = prompt.split()
    model.train(dropout > 0)
    nxt = np.asarray(lm.next_distribution(words), dtype=np.float64)
    model.train(dropout > 0)
    out = F.generate_draws(lm, np.random.default_rng(int(rng.integers(2**31))), n, words,
                           temperature, top_k)
    del out["p_first"]
    out["next"] = nxt
    if dropout > 0:
        model.eval()
        out["next_eval"] = np.asarray(lm.next_distribution(words), dtype=np.float64)
    return out
