"""The layers of the window LM, cs231n style: one function per layer and direction.

Every forward returns ``(out, cache)`` and every backward takes ``(dout, cache)`` and returns
the gradient of each input, named after what it is the gradient of (``dW`` for ``W``). Caches
are NamedTuples so that a missing field fails loudly. Nothing here modifies its inputs.

Letters: minibatch N, context length C, vocabulary V, embedding D, hidden H; a generic affine
layer maps N rows of F features to M outputs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


# -- embedding ------------------------------------------------------------------------------
class EmbeddingCache(NamedTuple):
    x: np.ndarray        # (N, C) int64 word ids
    V: int               # rows of W, so that backward can build dW without keeping W


def embedding_forward(x, W):
    """Look up the embedding of every word of every window.

    Inputs:
    - x: (N, C) integer word ids, each in [0, V)
    - W: (V, D) embedding matrix, one row per word

    Returns a tuple of:
    - out: (N, C, D), out[i, j] = W[x[i, j]]
    - cache: EmbeddingCache for embedding_backward
    """
    ### BEGIN SOLUTION
    # HINT: integer-array indexing W[x] gathers one row of W per id.
    out = W[x]
    cache = EmbeddingCache(x=np.array(x, copy=True), V=W.shape[0])
    ### END SOLUTION
    return out, cache


def embedding_backward(dout, cache):
    """Gradient of the loss with respect to the embedding matrix.

    A word that occurs several times in the minibatch receives the sum of the gradients of
    all its occurrences.

    Inputs:
    - dout: (N, C, D) upstream gradient
    - cache: EmbeddingCache from embedding_forward

    Returns:
    - dW: (V, D) gradient with respect to W (zero rows for words not in x)
    """
    ### BEGIN SOLUTION
    # HINT: dW[x] = dout keeps only the last occurrence of a repeated word; np.add.at adds them all.
    dW = np.zeros((cache.V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dW, cache.x, dout)
    ### END SOLUTION
    return dW


# -- window concatenation ---------------------------------------------------------------------
class ConcatCache(NamedTuple):
    shape: tuple         # (N, C, D), the shape of the input


def concat_forward(x):
    """Concatenate the C embeddings of each window into one vector, oldest word first.

    Inputs:
    - x: (N, C, D) embeddings of the C context words, x[:, 0] the oldest (farthest from the
      predicted word) and x[:, C-1] the word right before it

    Returns a tuple of:
    - out: (N, C*D), out[i] = [x[i, 0], x[i, 1], ..., x[i, C-1]] side by side, so
      out[i, j*D:(j+1)*D] = x[i, j]
    - cache: ConcatCache for concat_backward
    """
    ### BEGIN SOLUTION
    # HINT: a C-order reshape of (N, C, D) to (N, C*D) puts word 0 first.
    N, C, D = x.shape
    out = x.reshape(N, C * D)
    cache = ConcatCache(shape=(N, C, D))
    ### END SOLUTION
    return out, cache


def concat_backward(dout, cache):
    """Inputs: dout: (N, C*D); cache: ConcatCache. Returns dx: (N, C, D)."""
    ### BEGIN SOLUTION
    dx = dout.reshape(cache.shape)
    ### END SOLUTION
    return dx


# -- affine -----------------------------------------------------------------------------------
class AffineCache(NamedTuple):
    x: np.ndarray        # (N, F)
    w: np.ndarray        # (F, M)


def affine_forward(x, w, b):
    """Affine layer: out = x @ w + b.

    Inputs:
    - x: (N, F) inputs
    - w: (F, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M)
    - cache: AffineCache for affine_backward
    """
    ### BEGIN SOLUTION
    out = x @ w + b
    cache = AffineCache(x=x, w=w)
    ### END SOLUTION
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: AffineCache from affine_forward

    Returns a tuple of:
    - dx: (N, F)
    - dw: (F, M)
    - db: (M,), the bias is shared by every row of the minibatch
    """
    ### BEGIN SOLUTION
    # HINT: b is added to every one of the N rows, so its gradient collects all N of them.
    dx = dout @ cache.w.T
    dw = cache.x.T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


# -- tanh -------------------------------------------------------------------------------------
class TanhCache(NamedTuple):
    x: np.ndarray        # the pre-activation, any shape
    out: np.ndarray      # tanh(x), same shape


def tanh_forward(x):
    """Elementwise tanh. Input x: any shape. Returns (out, cache), out = tanh(x), same shape."""
    ### BEGIN SOLUTION
    out = np.tanh(x)
    cache = TanhCache(x=x, out=out)
    ### END SOLUTION
    return out, cache


def tanh_backward(dout, cache):
    """Inputs: dout: upstream gradient, the shape of x; cache: TanhCache.

    Returns dx, the shape of x. d tanh(x)/dx = 1 - tanh(x)**2, a function of the output.
    """
    ### BEGIN SOLUTION
    # HINT: write the local derivative of tanh in terms of its output (the cache holds it).
    dx = dout * (1.0 - cache.out ** 2)
    ### END SOLUTION
    return dx


# -- softmax cross-entropy ----------------------------------------------------------------------
def log_softmax(scores, mask=None):
    """Numerically stable log-softmax over the last axis, restricted to the classes in ``mask``.

    Inputs:
    - scores: (N, V) unnormalized scores (logits); may be as large as 1e3 or more
    - mask: (V,) bool, True for the classes that can be predicted, or None for all. The window
      LM passes a mask that is False at <s>, which is never predicted.

    Returns:
    - logp: (N, V) float64, logp[i, k] = ln p(k | row i); exp(logp[i]) sums to one over the
      masked-in classes, and masked-out classes get logp = -inf (probability exactly 0).

    Subtract each row's maximum before exponentiating: exp(1000) overflows, exp(0) does not,
    and the shift cancels in the ratio.
    """
    ### BEGIN SOLUTION
    # HINT: shift each row by its max (over the allowed classes) before np.exp.
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ### END SOLUTION
    return logp


class SoftmaxCache(NamedTuple):
    logp: np.ndarray     # (N, V) log-probabilities from log_softmax
    y: np.ndarray        # (N,) targets


def softmax_loss_forward(scores, y, mask=None):
    """Mean cross-entropy of a softmax over the classes allowed by ``mask``.

    Inputs:
    - scores: (N, V) logits
    - y: (N,) integer targets, each an allowed class
    - mask: (V,) bool or None, as in log_softmax

    Returns a tuple of:
    - loss: float, -(1/N) * sum_i ln p(y[i] | row i)
    - cache: SoftmaxCache for softmax_loss_backward
    """
    ### BEGIN SOLUTION
    logp = log_softmax(scores, mask)
    loss = float(-logp[np.arange(len(y)), y].mean())
    cache = SoftmaxCache(logp=logp, y=np.array(y, copy=True))
    ### END SOLUTION
    return loss, cache


def softmax_loss_backward(dloss, cache):
    """Gradient of the mean cross-entropy with respect to the logits.

    Inputs:
    - dloss: float, upstream gradient of the loss (1.0 when the loss is the objective)
    - cache: SoftmaxCache

    Returns:
    - dscores: (N, V), dloss * (p - onehot(y)) / N; zero at masked-out classes
    """
    ### BEGIN SOLUTION
    # HINT: the loss is a mean over N rows, so every row's gradient is divided by N.
    N = cache.logp.shape[0]
    dscores = np.exp(cache.logp)
    dscores[np.arange(N), cache.y] -= 1.0
    dscores *= dloss / N
    ### END SOLUTION
    return dscores
