"""The other layers of a transformer, and one pre-norm decoder block, in numpy (float64).

Letters: minibatch N, sequence T, model width D, MLP width F (4D in GPT-2), context C (the
number of learned positions), heads h. Forward ``(out, cache)``, backward ``(dout, cache)``,
as in attention.py; no function modifies its inputs.

Layer normalisation normalises each position's D features on their own (not over the batch,
as batch normalisation does), so it works the same at training and test time and for one
token:

    mu = mean(x), var = mean((x - mu)^2)   over the last axis
    xhat = (x - mu) / sqrt(var + eps),  out = gamma * xhat + beta

GELU, GPT-2's tanh approximation (torch: ``F.gelu(x, approximate="tanh")``):

    gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2 / pi) (x + 0.044715 x^3)

Learned positional embeddings: position t adds the row W_pos[t] to the token embedding at t.

The pre-norm decoder block (GPT-2):

    h   = x + MHA(LN_1(x))                  the attention branch, causal
    out = h + W_proj^T gelu(LN_2(h) W_fc + b_fc) + b_proj     the MLP branch (row vectors)

Each branch reads a normalised copy of the residual stream and adds its result to the stream
itself, so the identity path carries the gradient from the loss to every block unchanged.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .attention import multihead_attention_backward, multihead_attention_forward

BLOCK_PARAMS = ("ln1_gamma", "ln1_beta", "W_qkv", "b_qkv", "W_o", "b_o",
                "ln2_gamma", "ln2_beta", "W_fc", "b_fc", "W_proj", "b_proj")
"""The keys of a block's params (and of its gradients): shapes (D,), (D,), (D, 3D), (3D,),
(D, D), (D,), (D,), (D,), (D, F), (F,), (F, D), (D,)."""


# -- a linear layer over the last axis (provided) -------------------------------------------
class LinearCache(NamedTuple):
    x: np.ndarray        # (..., D_in)
    W: np.ndarray        # (D_in, D_out)


def linear_forward(x, W, b):
    """x (..., D_in) @ W (D_in, D_out) + b (D_out,) -> (..., D_out). Provided."""
    return x @ W + b, LinearCache(x, W)


def linear_backward(dout, cache):
    """Returns (dx (..., D_in), dW (D_in, D_out), db (D_out,)). Provided."""
    rows_in = cache.x.reshape(-1, cache.W.shape[0])
    rows_out = dout.reshape(-1, cache.W.shape[1])
    return dout @ cache.W.T, rows_in.T @ rows_out, rows_out.sum(axis=0)


# -- layer normalisation -------------------------------------------------------------------
class LayerNormCache(NamedTuple):
    xhat: np.ndarray     # (..., D) the normalised input
    inv_std: np.ndarray  # (..., 1) 1 / sqrt(var + eps)
    gamma: np.ndarray    # (D,)


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis.

    Inputs:
    - x: (..., D)
    - gamma: gain, of shape (D,); beta: shift, of shape (D,)
    - eps: added to the variance (the biased one, as torch does)

    Returns a tuple of:
    - out: (..., D)
    - cache: LayerNormCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    # HINT: one mean and one variance per position, over its D features only.
    D = x.shape[-1]
    xhat = x - x.mean(axis=-1, keepdims=True)                  # (..., D), centred
    var = np.einsum("...d,...d->...", xhat, xhat)[..., None] / D   # (..., 1), one pass
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= inv_std                                            # in place: xhat is ours
    out = xhat * gamma
    out += beta
    cache = LayerNormCache(xhat, inv_std, gamma)
    ### END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass of layer normalisation.

    Every output of a row depends on every input of the row through mu and var, so dx has
    three terms: the direct one, one through the mean and one through the variance.

    Inputs:
    - dout: (..., D)
    - cache: LayerNormCache

    Returns a tuple of:
    - dx: (..., D)
    - dgamma: (D,); dbeta: (D,) (summed over all the leading axes)
    """
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    # HINT: three paths lead from an input to the outputs of its row: directly, through the
    # HINT: mean and through the variance; each path gives one term of dx.
    # With dxhat = dout * gamma (the gradient reaching xhat), the three terms in one line:
    #     dx = inv_std / D * (D dxhat - sum(dxhat) - xhat sum(dxhat * xhat))   (sums over D)
    # dout * xhat serves twice: summed over the rows it is dgamma, and its row sums weighted
    # by gamma are sum(dxhat * xhat).
    c = cache
    D = c.xhat.shape[-1]
    dout_xhat = dout * c.xhat                                  # (..., D)
    dgamma = dout_xhat.reshape(-1, D).sum(axis=0)
    dbeta = dout.reshape(-1, D).sum(axis=0)
    sum_dxhat = (dout @ c.gamma)[..., None]                    # (..., 1)
    sum_dxhat_xhat = (dout_xhat @ c.gamma)[..., None]          # (..., 1)
    dx = dout * c.gamma                                        # dxhat, (..., D)
    dx *= D
    dx -= sum_dxhat
    dx -= np.multiply(c.xhat, sum_dxhat_xhat, out=dout_xhat)   # its last use: reuse its memory
    dx *= c.inv_std / D
    ### END SOLUTION
    return dx, dgamma, dbeta


# -- GELU ----------------------------------------------------------------------------------
GELU_C = np.sqrt(2.0 / np.pi)


class GeluCache(NamedTuple):
    x: np.ndarray        # the input
    t: np.ndarray        # tanh(u), same shape


def gelu_forward(x):
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Inputs:
    - x: any shape

    Returns a tuple of:
    - out: same shape as x
    - cache: GeluCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    t = np.tanh(GELU_C * x * (1.0 + 0.044715 * x * x))
    out = 0.5 * x * (1.0 + t)
    cache = GeluCache(x, t)
    ### END SOLUTION
    return out, cache


def gelu_backward(dout, cache):
    """Backward pass of GELU.

    Inputs:
    - dout: upstream gradient, the shape of the forward's input
    - cache: GeluCache

    Returns:
    - dx: same shape
    """
    dx = None
    ### BEGIN SOLUTION
    # HINT: a product rule: 0.5 x (1 + tanh(u)) depends on x directly and through u.
    x, t = cache.x, cache.t
    du = GELU_C * (1.0 + 3 * 0.044715 * x * x)
    dx = dout * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
    ### END SOLUTION
    return dx


# -- learned positional embeddings ---------------------------------------------------------
class PositionCache(NamedTuple):
    T: int               # positions used
    C: int               # positions learned


def positional_embedding_forward(x, W_pos):
    """Add the learned embedding of each position to the token embeddings.

    Inputs:
    - x: token embeddings, of shape (N, T, D), with T <= C
    - W_pos: (C, D), row t is the embedding of position t

    Returns a tuple of:
    - out: (N, T, D), out[n, t] = x[n, t] + W_pos[t]
    - cache: PositionCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    N, T, D = x.shape
    if T > W_pos.shape[0]:
        raise ValueError(f"{T} positions but only {W_pos.shape[0]} learned")
    out = x + W_pos[:T]
    cache = PositionCache(T, W_pos.shape[0])
    ### END SOLUTION
    return out, cache


def positional_embedding_backward(dout, cache):
    """Backward pass of the positional embedding.

    Inputs:
    - dout: (N, T, D)
    - cache: PositionCache

    Returns a tuple of:
    - dx: (N, T, D)
    - dW_pos: (C, D); rows T..C-1 are 0 (those positions were not used)
    """
    dx, dW_pos = None, None
    ### BEGIN SOLUTION
    # HINT: W_pos[t] is added to every sequence of the batch: its gradient adds up over N.
    dx = dout.copy()
    dW_pos = np.zeros((cache.C, dout.shape[-1]), dtype=dout.dtype)
    dW_pos[:cache.T] = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dW_pos


# -- one pre-norm decoder block --------------------------------------------------------------
class BlockCache(NamedTuple):
    ln1: LayerNormCache
    attn: object         # MultiHeadCache
    ln2: LayerNormCache
    fc: LinearCache
    gelu: GeluCache
    proj: LinearCache


def decoder_block_forward(x, params, n_heads, mask=None):
    """One pre-norm decoder block: h = x + MHA(LN_1(x)); out = h + MLP(LN_2(h)).

    Inputs:
    - x: (N, T, D)
    - params: dict with the keys of BLOCK_PARAMS (shapes there)
    - n_heads: h
    - mask: as for multihead_attention_forward (None: causal)

    Returns a tuple of:
    - out: (N, T, D)
    - cache: BlockCache
    """
    out, cache = None, None
    ### BEGIN SOLUTION
    # HINT: each branch reads a normalised copy; the residual adds the branch to the raw input.
    p = params
    a_in, ln1 = layernorm_forward(x, p["ln1_gamma"], p["ln1_beta"])
    a, attn = multihead_attention_forward(a_in, p["W_qkv"], p["b_qkv"], p["W_o"], p["b_o"],
                                          n_heads, mask)
    h = x + a
    m_in, ln2 = layernorm_forward(h, p["ln2_gamma"], p["ln2_beta"])
    f, fc = linear_forward(m_in, p["W_fc"], p["b_fc"])
    g, gelu = gelu_forward(f)
    m, proj = linear_forward(g, p["W_proj"], p["b_proj"])
    out = h + m
    cache = BlockCache(ln1, attn, ln2, fc, gelu, proj)
    ### END SOLUTION
    return out, cache


def decoder_block_backward(dout, cache):
    """Backward pass of the decoder block.

    Inputs:
    - dout: (N, T, D)
    - cache: BlockCache

    Returns a tuple of:
    - dx: (N, T, D)
    - grads: dict with the keys of BLOCK_PARAMS, each the shape of its parameter
    """
    dx, grads = None, None
    ### BEGIN SOLUTION
    # HINT: the gradient of h + f(h) with respect to h is dout plus f's backward of dout.
    c = cache
    grads = {}
    dg, grads["W_proj"], grads["b_proj"] = linear_backward(dout, c.proj)
    df = gelu_backward(dg, c.gelu)
    dm_in, grads["W_fc"], grads["b_fc"] = linear_backward(df, c.fc)
    dh_mlp, grads["ln2_gamma"], grads["ln2_beta"] = layernorm_backward(dm_in, c.ln2)
    dh = dout + dh_mlp
    da_in, grads["W_qkv"], grads["b_qkv"], grads["W_o"], grads["b_o"] = \
        multihead_attention_backward(dh, c.attn)
    dx_attn, grads["ln1_gamma"], grads["ln1_beta"] = layernorm_backward(da_in, c.ln1)
    dx = dh + dx_attn
    ### END SOLUTION
    return dx, grads
