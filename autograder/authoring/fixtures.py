"""Inputs that several suites share: tiny corpora, the inputs-unchanged check, and gradients
for the clipping tests. Scenarios import them; nothing here sees a submission.

Changing anything here changes the expected outputs of every suite that uses it: rebuild the
public ones (``python -m autograder expected``); hidden ones are recomputed by themselves.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# Hand-checkable corpora, selected by name in a test's params. Sentences are token lists.
CORPORA: dict[str, list[list[str]]] = {
    "tiny": [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat", "ran"],
             ["the", "cat", "ran", "down", "the", "hill"], ["a", "dog", "sat"]],
    "hills": [["up", "the", "hill"], ["down", "the", "hill", "again"], ["the", "hill", "is", "up"],
              ["up", "and", "down"], ["again", "and", "again", "up", "the", "hill"]],
    "farm": [line.split() for line in (
        "the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .",
        "the dog saw the cat on the mat .", "a bird sat on the dog .",
        "the bird saw a cat .", "a dog and a cat sat .", "the mat is on the log .")],
    "verse": [line.split() for line in (
        "to be or not to be , that is the question .",
        "the rest is silence .", "what a piece of work is a man !",
        "we are such stuff as dreams are made on .", "once more unto the breach , friends .",
        "o brave new world , that has such people in it !", "to sleep , perchance to dream .")],
}


def sentences(name: str) -> list[list[str]]:
    """A fresh copy of the corpus ``name`` (a scenario may hand it to code that mutates it)."""
    return [list(s) for s in CORPORA[name]]


def copies(arrays: Sequence) -> list:
    """Copies of numpy arrays or torch tensors, to compare with after the call."""
    return [a.clone() if hasattr(a, "clone") else np.array(a, copy=True) for a in arrays]


def unchanged(before: Sequence, after: Sequence) -> bool:
    """Did the code under test leave its inputs alone? (NaN equals NaN; shape and dtype count)"""
    for b, a in zip(before, after, strict=True):
        if hasattr(a, "detach"):   # torch
            import torch
            if not (isinstance(b, torch.Tensor) and b.shape == a.shape and b.dtype == a.dtype
                    and torch.equal(torch.nan_to_num(b), torch.nan_to_num(a))
                    and torch.equal(b.isnan(), a.isnan())):
                return False
        elif not np.array_equal(np.asarray(b), np.asarray(a), equal_nan=True):
            return False
    return True


def gradients(rng: np.random.Generator, shapes: Sequence[tuple], scale: float = 1.0,
              poison: Sequence[tuple[int, tuple, float]] = ()) -> list[np.ndarray]:
    """Gradients for a clipping test: standard normal draws of ``shapes``, times ``scale`` (1e200
    for an overflowing norm, 1e-200 for an underflowing one), with non-finite values put at
    ``poison``: (array index, position, value), e.g. ``(0, (1, 2), math.inf)``."""
    grads = [rng.standard_normal(s) * scale for s in shapes]
    for k, where, value in poison:
        grads[k][where] = value
    return grads


INF, NAN = math.inf, math.nan


def generate_draws(model, rng: np.random.Generator, n: int = 1500, prompt: Sequence[str] = (),
                   temperature: float = 1.0, top_k: int | None = None) -> dict:
    """What ``lmcore.lm.generate`` draws from ``model``, for a statistical judge
    (``judges.draws_follow``): ``n`` sentences of at most two tokens after ``prompt``.

    Returns:
    - "draws": {"counts": (2, V), "probs": (2, V)}: row 0 counts the first token drawn (an id
      of ``</s>`` when the sentence ended at once), row 1 the second one among the sentences
      that went on; "probs" are the model's own distributions of the same two draws (row 1
      the mixture over the first token, renormalised without ``</s>``), as lmcore.lm.generate
      reshapes them. The judge counts the student's draws against the reference's probs
      (or, with ``draws_follow(own=True)``, against these, the model's own).
    - "reproducible": the first five sentences again from the same generator state are equal
    - "p_first": the model's next_distribution(prompt) itself (for hints)
    """
    from lmcore.lm import generate, sampling_distribution

    vocab = model.vocab
    V, eos = len(vocab), vocab.eos_id
    prompt = list(prompt)
    state = rng.bit_generator.state
    first = [generate(model, rng, 2, prompt, temperature=temperature, top_k=top_k)
             for _ in range(5)]
    rng.bit_generator.state = state
    again = [generate(model, rng, 2, prompt, temperature=temperature, top_k=top_k)
             for _ in range(5)]
    counts = np.zeros((2, V), dtype=np.int64)
    for k in range(n):
        out = first[k] if k < 5 else generate(model, rng, 2, prompt, temperature=temperature,
                                               top_k=top_k)
        drawn = out[len(prompt):]
        counts[0, vocab[drawn[0]] if drawn else eos] += 1
        if drawn:
            counts[1, vocab[drawn[1]] if len(drawn) > 1 else eos] += 1
    p_first = np.asarray(model.next_distribution(prompt), dtype=np.float64)
    q1 = sampling_distribution(p_first, temperature, top_k)
    q2 = np.zeros(V)
    for w in np.flatnonzero(q1):
        if w != eos:
            q2 += q1[w] * sampling_distribution(
                model.next_distribution(prompt + [vocab.token(int(w))]), temperature, top_k)
    q2 = q2 / q2.sum() if q2.sum() > 0 else q2
    return {"draws": {"counts": counts, "probs": np.stack([q1, q2]),
                      "tokens": [vocab.token(i) for i in range(V)]},
            "reproducible": first == again, "p_first": p_first}
