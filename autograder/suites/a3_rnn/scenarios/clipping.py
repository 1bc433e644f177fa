"""Scenarios of a3_rnn: clipping.py."""
from __future__ import annotations

import math
import numpy as np

from autograder.authoring import fixtures as F


# -- clipping ------------------------------------------------------------------------------------
SCALE = {"below": 0.01, "tiny": 1e-200, "huge": 1e200, "large": 1e100}
POISON = {"inf": [(0, (1, 2), F.INF)], "neginf": [(1, (0,), -F.INF)], "nan": [(2, (0, 1), F.NAN)]}


def _grads_case(rng, case):
    """Gradients named W, b, v for the case (``empty``: none at all)."""
    arrays = F.gradients(rng, [(3, 4), (4,), (2, 2)], SCALE.get(case, 1.0), POISON.get(case, ()))
    return {} if case == "empty" else dict(zip("Wbv", arrays))


def clip_norm(sub, rng, case="random", max_norm=1.0, error_if_nonfinite=False, oracle=False):
    """The student's clip_grad_norm; ``oracle`` (the reference's run of an oracle test):
    torch.nn.utils.clip_grad_norm_ on the same gradients, under "torch"."""
    grads = _grads_case(rng, case)
    copies = {k: v.copy() for k, v in grads.items()}
    out = {"max_norm": float(max_norm)}
    try:
        clipped, norm = sub.clipping.clip_grad_norm(grads, max_norm,
                                                    error_if_nonfinite=error_if_nonfinite)
        out["raised"] = False
        out["norm"] = float(norm)
        out["clipped"] = {k: clipped[k] for k in grads}
    except NotImplementedError:   # a stub is unfinished, not an error_if_nonfinite raise
        raise
    except RuntimeError:
        out["raised"] = True
    out["inputs_unchanged"] = all(np.array_equal(copies[k], grads[k], equal_nan=True) for k in grads)
    if oracle:
        import torch
        params = []
        for k, v in copies.items():
            p = torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64))
            p.grad = torch.tensor(v)
            params.append(p)
        t = {}
        try:
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm, error_if_nonfinite=error_if_nonfinite)
            t["raised"] = False
            t["norm"] = float(norm)
            t["clipped"] = {k: p.grad.numpy() for k, p in zip(copies, params)}
        except RuntimeError:
            t["raised"] = True
        out["torch"] = t
    return out


def clip_value(sub, rng, case="random", clip=0.5):
    grads = _grads_case(rng, case)
    copies = {k: v.copy() for k, v in grads.items()}
    clipped = sub.clipping.clip_grad_value(grads, clip)
    return {"clipped": {k: clipped[k] for k in grads},
            "inputs_unchanged": all(np.array_equal(copies[k], grads[k], equal_nan=True) for k in grads)}


def nonfinite(sub, rng, S=12, bad=None, where="loss"):
    losses = list(5.0 - np.arange(S) * 0.1 + rng.random(S) * 0.01)
    norms = list(rng.random(S) * 3)
    if bad is not None:
        kind = [math.nan, math.inf, -math.inf][int(rng.integers(0, 3))]
        (losses if where == "loss" else norms)[bad] = kind
        # later steps are bad too, as in a real divergence
        for s in range(bad + 1, S):
            losses[s] = math.nan
    step = sub.clipping.first_nonfinite(losses, norms)
    return {"step": step}
