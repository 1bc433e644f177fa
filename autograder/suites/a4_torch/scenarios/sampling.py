"""Scenarios of a4_torch: generate.py."""
from __future__ import annotations

import numpy as np
import torch
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F
from autograder.suites.a4_torch.scenarios.common import _np, _setup
from autograder.suites.a4_torch.scenarios.train import _tiny_model


# -- generate.py ------------------------------------------------------------------------------
def probs_case(sub, rng, N=2, V=9, temperature=1.0, top_k=None, scale=2.0):
    """next_token_probs on random float64 logits."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * scale)
    copy = logits.clone()
    probs = sub.generate.next_token_probs(logits, temperature, top_k)
    return {"probs": _np(probs), "inputs_unchanged": bool(torch.equal(logits, copy))}


def sample_case(sub, rng, N=3, V=8, draws=25, temperature=0.8, top_k=None):
    """sample_next with a seeded torch.Generator: the draws, and the same draws again after
    re-seeding (reproducibility)."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * 2.0)
    seed = int(rng.integers(2**31))
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(seed)
        runs.append([_np(sub.generate.sample_next(logits, g, temperature, top_k)).astype(np.int64)
                     for _ in range(draws)])
    first, again = np.stack(runs[0]), np.stack(runs[1])
    return {"draws": first, "reproducible": bool(np.array_equal(first, again)),
            "never_bos": bool((first != Vocab.bos_id).all())}


def generate_case(sub, rng, corpus="verse", prompt="to be", temperature=0.8, top_k=None,
                  max_tokens=12, samples=3, dropout=0.0):
    """generate from a prompt with a known-good model and a seeded generator: the sentences,
    and the same sentences again from the same seed. With ``dropout`` the model is handed
    over in training mode (as after train_epoch); ``samples_eval`` are the sentences when
    the scenario itself has put the model in eval mode first."""
    _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    model = _tiny_model(rng, len(vocab), E=6, H=8, dropout=dropout)
    seed = int(rng.integers(2**31))

    def draw(train_mode):
        torch.manual_seed(seed)           # the same dropout masks, should any be drawn
        g = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(samples):
            model.train(train_mode)
            out.append(" ".join(map(str, sub.generate.generate(
                model, vocab, g, prompt=prompt.split(), max_tokens=max_tokens,
                temperature=temperature, top_k=top_k))))
        return out
    first = draw(dropout > 0)
    result = {"samples": first, "reproducible": first == draw(dropout > 0)}
    if dropout > 0:
        result["samples_eval"] = draw(False)
    return result
