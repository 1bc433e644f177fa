"""Scenarios of a5_attention: shared by the scenario modules."""
from __future__ import annotations

import numpy as np


CORPORA = {
    "farm": [
        "the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .",
        "the dog saw the cat on the mat .", "a bird sat on the dog .",
        "the bird saw a cat .", "a dog and a cat sat .", "the mat is on the log .",
    ],
}

def _unchanged(copies, arrays):
    return all(a is None and b is None or np.array_equal(a, b, equal_nan=True)
               for a, b in zip(copies, arrays))

def _variants(**makers):
    """Each maker is called; one that raises is left out (a student's function may not take
    the transformed input, and its variants are never used anyway)."""
    out = {}
    for name, make in makers.items():
        try:
            out[name] = make()
        except Exception:  # noqa: BLE001
            pass
    return out

def _swap(a):
    return None if a is None else np.swapaxes(a, -1, -2)

def _make_mask(rng, kind, lead, Tq, Tk):
    """A mask of shape lead + (Tq, Tk): causal (Tq == Tk), random with every row allowed at
    least once, random with row 1 fully masked, or None."""
    if kind == "none":
        return None
    if kind == "causal":
        return np.tril(np.ones((Tq, Tk), dtype=bool))
    m = rng.random((*lead, Tq, Tk)) < 0.6
    m[..., np.arange(Tq), rng.integers(0, Tk, size=Tq)] = True
    if kind == "empty_row":
        m[..., min(1, Tq - 1), :] = False
    return m
