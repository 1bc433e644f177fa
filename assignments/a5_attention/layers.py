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
    # Hint: one mean and one variance per position, over its D features only.
    raise NotImplementedError("layernorm_forward: write this part")
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
    # Hint: three paths lead from an input to the outputs of its row: directly, through the
    # Hint: mean and through the variance; each path gives one term of dx.
    raise NotImplementedError("layernorm_backward: write this part")
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
    raise NotImplementedError("gelu_forward: write this part")
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
    # Hint: a product rule: 0.5 x (1 + tanh(u)) depends on x directly and through u.
    raise NotImplementedError("gelu_backward: write this part")
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
    raise NotImplementedError("positional_embedding_forward: write this part")
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
    # Hint: W_pos[t] is added to every sequence of the batch: its gradient adds up over N.
    raise NotImplementedError("positional_embedding_backward: write this part")
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
    # Hint: each branch reads a normalised copy; the residual adds the branch to the raw input.
    raise NotImplementedError("decoder_block_forward: write this part")
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
    # Hint: the gradient of h + f(h) with respect to h is dout plus f's backward of dout.
    raise NotImplementedError("decoder_block_backward: write this part")
    return dx, grads
