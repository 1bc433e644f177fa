"""Attention in numpy, cs231n style: one function per layer and direction, float64.

Letters, named once for the whole file: minibatch N, heads h, queries T_q, keys T_k (T_q =
T_k = T in self-attention), head size d_k, value size d_v, model width D = h * d_k.
Leading axes written ``...`` are any batch axes (e.g. (N, h)); every function works on them
elementwise.

A forward returns ``(out, cache)``; the matching backward takes ``(dout, cache)`` and returns
the gradient of the loss with respect to every input (``dq`` is dL/dq). No function modifies
its inputs.

Scaled dot-product attention, for one query row i:

    s_ij = q_i . k_j / sqrt(d_k)                   scores, (..., T_q, T_k)
    p_ij = exp(s_ij) / sum_{j' allowed} exp(s_ij')  for allowed j, 0 for masked j (the softmax
                                                   runs over the KEYS j, the last axis)
    out_i = sum_j p_ij v_j                          (..., T_q, d_v)

A mask is a boolean array broadcastable to (..., T_q, T_k): True where query i may attend to
key j. The causal mask of a language model lets position i see positions 0..i, itself
included, and nothing after. Masking happens before the softmax, so each row of p still sums
to one over the keys it may see; a row that may see nothing gets p = 0 (and out = 0), never
NaN. The 1 / sqrt(d_k) keeps the scores' variance near 1 when q and k have unit-variance
entries, so the softmax does not saturate as d_k grows.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


# -- the causal mask -----------------------------------------------------------------------
def causal_mask(T):
    """The causal mask of a sequence of T positions.

    Inputs:
    - T: int >= 1

    Returns:
    - mask: bool array of shape (T, T); mask[i, j] is True iff j <= i
    """
    mask = None
    ### BEGIN SOLUTION
    # HINT: a position sees itself and the past: the lower triangle, diagonal included.
    mask = np.tril(np.ones((T, T), dtype=bool))
    ### END SOLUTION
    return mask


# -- the masked softmax --------------------------------------------------------------------
class SoftmaxCache(NamedTuple):
    probs: np.ndarray    # (..., T_q, T_k) the output, 0 at masked entries


def masked_softmax_forward(scores, mask=None):
    """Softmax over the last axis (the keys), restricted to the allowed entries.

    Stable for any finite scores (subtract each row's largest *allowed* score before the
    exponential); masked entries get exactly 0; a row with no allowed entry gets all zeros.

    Inputs:
    - scores: float array of shape (..., T_q, T_k)
    - mask: bool array broadcastable to scores' shape (True: allowed), or None (all allowed)

    Returns a tuple of:
    - probs: (..., T_q, T_k), each row sums to 1 over its allowed entries (0 if it has none)
    - cache: SoftmaxCache
    """
    probs, cache = None, None
    ### BEGIN SOLUTION
    # HINT: mask before normalising, so that the allowed entries share all the mass. Shifting a
    # HINT: row by a constant changes nothing but keeps exp finite; a row with nothing allowed
    # HINT: has no largest score.
    if mask is None:
        s = scores - scores.max(axis=-1, keepdims=True)
    else:
        s = np.where(np.asarray(mask, dtype=bool), scores, -np.inf)   # the mask broadcasts
        top = s.max(axis=-1, keepdims=True)
        s -= np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s, out=s)
    z = e.sum(axis=-1, keepdims=True)
    probs = np.divide(e, np.where(z > 0, z, 1.0), out=e)
    cache = SoftmaxCache(probs)
    ### END SOLUTION
    return probs, cache


def masked_softmax_backward(dprobs, cache):
    """Backward pass of the masked softmax.

    Inputs:
    - dprobs: upstream gradient, of shape (..., T_q, T_k)
    - cache: SoftmaxCache

    Returns:
    - dscores: (..., T_q, T_k); 0 at masked entries
    """
    dscores = None
    ### BEGIN SOLUTION
    # HINT: every output of a row depends on every score of that row; masked entries need no
    # HINT: special case once their probability is 0.
    p = cache.probs
    pd = p * dprobs
    dscores = pd - p * pd.sum(axis=-1, keepdims=True)
    ### END SOLUTION
    return dscores


# -- scaled dot-product attention ----------------------------------------------------------
class AttentionCache(NamedTuple):
    q: np.ndarray        # (..., T_q, d_k)
    k: np.ndarray        # (..., T_k, d_k)
    v: np.ndarray        # (..., T_k, d_v)
    scale: float         # 1 / sqrt(d_k)
    softmax: SoftmaxCache


def attention_forward(q, k, v, mask=None):
    """Scaled dot-product attention: softmax(q k^T / sqrt(d_k), mask) v.

    Inputs:
    - q: queries, of shape (..., T_q, d_k)
    - k: keys, of shape (..., T_k, d_k)
    - v: values, of shape (..., T_k, d_v)
    - mask: bool, broadcastable to (..., T_q, T_k) (True: query i may attend to key j), or None

    Returns a tuple of:
    - out: (..., T_q, d_v)
    - cache: AttentionCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    # HINT: work on the last two axes only, so that the batch axes (N, h) come along for free.
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = (q * scale) @ k.swapaxes(-1, -2)
    probs, sm = masked_softmax_forward(scores, mask)
    out = probs @ v
    cache = AttentionCache(q, k, v, scale, sm)
    ### END SOLUTION
    return out, cache


def attention_backward(dout, cache):
    """Backward pass of scaled dot-product attention.

    Inputs:
    - dout: upstream gradient, of shape (..., T_q, d_v)
    - cache: AttentionCache

    Returns a tuple of:
    - dq: (..., T_q, d_k)
    - dk: (..., T_k, d_k)
    - dv: (..., T_k, d_v)
    """
    dq, dk, dv = None, None, None
    ### BEGIN SOLUTION
    # HINT: undo the three steps in reverse order: the weighted sum of the values, the softmax,
    # HINT: the scaled product of queries and keys (the scale is part of its gradient too).
    c = cache
    p = c.softmax.probs
    dv = p.swapaxes(-1, -2) @ dout
    dscores = masked_softmax_backward(dout @ c.v.swapaxes(-1, -2), c.softmax)
    dq = (dscores @ c.k) * c.scale
    dk = (dscores.swapaxes(-1, -2) @ c.q) * c.scale
    ### END SOLUTION
    return dq, dk, dv


# -- heads ---------------------------------------------------------------------------------
def split_heads(x, n_heads):
    """Cut the last axis into h heads and move the heads before time.

    Head j is the columns j*d_k .. (j+1)*d_k - 1 of the last axis.

    Inputs:
    - x: (N, T, D), D a multiple of n_heads
    - n_heads: h

    Returns:
    - heads: (N, h, T, d_k), heads[n, j, t] = x[n, t, j*d_k:(j+1)*d_k]
    """
    heads = None
    ### BEGIN SOLUTION
    # HINT: a head's columns are contiguous in the last axis: cut them apart first, then move
    # HINT: the head axis in front of time.
    N, T, D = x.shape
    heads = x.reshape(N, T, n_heads, D // n_heads).transpose(0, 2, 1, 3)
    ### END SOLUTION
    return heads


def merge_heads(heads):
    """The inverse of split_heads: put the heads back side by side.

    Inputs:
    - heads: (N, h, T, d_k)

    Returns:
    - x: (N, T, h * d_k), x[n, t, j*d_k:(j+1)*d_k] = heads[n, j, t]
    """
    x = None
    ### BEGIN SOLUTION
    # HINT: time must come back next to the batch axis before the heads are flattened.
    N, h, T, d = heads.shape
    x = heads.transpose(0, 2, 1, 3).reshape(N, T, h * d)
    ### END SOLUTION
    return x


# -- multi-head self-attention -------------------------------------------------------------
class MultiHeadCache(NamedTuple):
    x: np.ndarray        # (N, T, D)
    W_qkv: np.ndarray    # (D, 3D)
    W_o: np.ndarray      # (D, D)
    merged: np.ndarray   # (N, T, D) the heads' outputs side by side, before W_o
    attention: AttentionCache
    n_heads: int


def multihead_attention_forward(x, W_qkv, b_qkv, W_o, b_o, n_heads, mask=None):
    """Multi-head self-attention (GPT-2's layout).

        [q | k | v] = x W_qkv + b_qkv         each (N, T, D): q is columns 0..D-1, k D..2D-1,
                                              v 2D..3D-1
        head j      = attention(split(q)_j, split(k)_j, split(v)_j, mask)
        out         = merge(heads) W_o + b_o

    Inputs:
    - x: (N, T, D)
    - W_qkv: (D, 3D); b_qkv: (3D,)
    - W_o: (D, D); b_o: (D,)
    - n_heads: h, with D a multiple of h
    - mask: bool, broadcastable to (N, h, T, T), or None for causal_mask(T)

    Returns a tuple of:
    - out: (N, T, D)
    - cache: MultiHeadCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    # HINT: compose what you wrote above: the heads are one more batch axis, so all of them
    # HINT: attend in one call.
    N, T, D = x.shape
    if mask is None:
        mask = causal_mask(T)
    qkv = x @ W_qkv + b_qkv
    q, k, v = (split_heads(qkv[..., i * D:(i + 1) * D], n_heads) for i in range(3))
    heads, att = attention_forward(q, k, v, mask)
    merged = merge_heads(heads)
    out = merged @ W_o + b_o
    cache = MultiHeadCache(x, W_qkv, W_o, merged, att, n_heads)
    ### END SOLUTION
    return out, cache


def multihead_attention_backward(dout, cache):
    """Backward pass of multi-head self-attention.

    Inputs:
    - dout: (N, T, D)
    - cache: MultiHeadCache

    Returns a tuple of:
    - dx: (N, T, D)
    - dW_qkv: (D, 3D); db_qkv: (3D,)
    - dW_o: (D, D); db_o: (D,)
    """
    dx, dW_qkv, db_qkv, dW_o, db_o = None, None, None, None, None
    ### BEGIN SOLUTION
    # HINT: the backward of split_heads is merge_heads, and the other way round.
    c = cache
    N, T, D = c.x.shape
    dW_o = c.merged.reshape(-1, D).T @ dout.reshape(-1, D)
    db_o = dout.reshape(-1, D).sum(axis=0)
    dheads = split_heads(dout @ c.W_o.T, c.n_heads)
    dq, dk, dv = attention_backward(dheads, c.attention)
    dqkv = np.concatenate([merge_heads(dq), merge_heads(dk), merge_heads(dv)], axis=-1)
    dx = dqkv @ c.W_qkv.T
    dW_qkv = c.x.reshape(-1, D).T @ dqkv.reshape(-1, 3 * D)
    db_qkv = dqkv.reshape(-1, 3 * D).sum(axis=0)
    ### END SOLUTION
    return dx, dW_qkv, db_qkv, dW_o, db_o
