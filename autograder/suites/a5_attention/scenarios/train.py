"""Scenarios of a5_attention: train.py."""
from __future__ import annotations

import math
from autograder.suites.a5_attention.scenarios.models import _setup
from autograder.suites.a5_attention.scenarios.common import _variants


# -- train.py ------------------------------------------------------------------------------------
def schedule(sub, rng, total=20, warmup=5, base_lr=1e-3, min_lr=1e-4, extra=3):
    f = sub.train.warmup_cosine
    steps = range(total + extra)
    lrs = [float(f(k, total, warmup, base_lr, min_lr)) for k in steps]
    return {"lr": lrs, "variants": _variants(cosine_ignores_warmup=lambda: [
        float(f(k, total, warmup, base_lr, min_lr) if k < warmup else f(k, total, 0, base_lr, min_lr))
        for k in steps])}


def groups(sub, rng, weight_decay=0.1, tie=True):
    """param_groups on a known-good little model (an embedding tied to a decoder, LayerNorms,
    linears): which parameter lands in which group, and with what decay."""
    from torch import nn
    _setup(rng)

    class Little(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(7, 4)
            self.ln = nn.LayerNorm(4)
            self.fc = nn.Linear(4, 6)
            self.proj = nn.Linear(6, 4, bias=False)
            self.ln_f = nn.LayerNorm(4)
            self.decoder = nn.Linear(4, 7)
            if tie:
                self.decoder.weight = self.embedding.weight

    model = Little()
    names = {id(p): n for n, p in model.named_parameters()}
    out = sub.train.param_groups(model, weight_decay)
    result = {"groups": [{"names": [names.get(id(p), "<not a parameter of the model>")
                                    for p in g["params"]],
                          "weight_decay": float(g.get("weight_decay", math.nan))} for g in out]}
    every = [n for n, _ in model.named_parameters()]
    result["variants"] = {"decay_all": [{"names": every, "weight_decay": weight_decay},
                                        {"names": [], "weight_decay": 0.0}]}
    return result
