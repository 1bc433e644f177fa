"""Layers of a recurrent language model, cs231n style: one function per layer and direction.

Letters, named once for the whole file: minibatch N, sequence length T, input (embedding)
dimension D, hidden size H, vocabulary size V.

A forward returns ``(out, cache)``; the matching backward takes ``(dout, cache)`` and returns the
gradient of the loss with respect to every input, named after what it is the gradient of
(``dWx`` is dL/dWx). Everything is float64 so that numerical gradient checks are meaningful.
No function modifies its inputs.

The vanilla RNN:  h_t = tanh(h_{t-1} Wh + x_t Wx + b)   (row vectors, so a batch is one matmul)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


# -- one step of the vanilla RNN ------------------------------------------------------------
class RNNStepCache(NamedTuple):
    x: np.ndarray        # (N, D) input at this step
    prev_h: np.ndarray   # (N, H) hidden state from the previous step
    Wx: np.ndarray       # (D, H)
    Wh: np.ndarray       # (H, H)
    next_h: np.ndarray   # (N, H) tanh output, kept because tanh' = 1 - tanh^2


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a vanilla RNN with a tanh activation.

    Inputs:
    - x: input data for this timestep, of shape (N, D)
    - prev_h: hidden state from the previous timestep, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: bias, of shape (H,)

    Returns a tuple of:
    - next_h: next hidden state, tanh(prev_h @ Wh + x @ Wx + b), of shape (N, H)
    - cache: RNNStepCache, what the backward pass needs
    """
    ### BEGIN SOLUTION
    # HINT: the docstring's formula is two matrix products and a bias; the backward will need
    # HINT: the step's output, so keep it in the cache.
    next_h = np.tanh(prev_h @ Wh + x @ Wx + b)
    cache = RNNStepCache(x, prev_h, Wx, Wh, next_h)
    ### END SOLUTION
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one timestep of a vanilla RNN.

    Inputs:
    - dnext_h: gradient of the loss with respect to next_h, of shape (N, H)
    - cache: RNNStepCache from rnn_step_forward

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the bias, of shape (H,)
    """
    ### BEGIN SOLUTION
    # HINT: d tanh(a)/da = 1 - tanh(a)^2, and tanh(a) is next_h (not the pre-activation a).
    da = dnext_h * (1.0 - cache.next_h ** 2)
    dx = da @ cache.Wx.T
    dprev_h = da @ cache.Wh.T
    dWx = cache.x.T @ da
    dWh = cache.prev_h.T @ da
    db = da.sum(axis=0)
    ### END SOLUTION
    return dx, dprev_h, dWx, dWh, db


# -- the whole sequence --------------------------------------------------------------------
class RNNCache(NamedTuple):
    steps: list          # T RNNStepCache, one per timestep
    D: int               # input dimension, for the shape of dx


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla RNN forward over a sequence of T timesteps.

    Inputs:
    - x: input data for the whole sequence, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: bias, of shape (H,)

    Returns a tuple of:
    - h: hidden states for every timestep, of shape (N, T, H); h[:, t] is h_{t+1} (h0 excluded)
    - cache: RNNCache, what the backward pass needs
    """
    ### BEGIN SOLUTION
    # HINT: loop over t with rnn_step_forward, feeding each step's output into the next step.
    N, T, D = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    prev_h, steps = h0, []
    for t in range(T):
        prev_h, step = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step)
    cache = RNNCache(steps, D)
    ### END SOLUTION
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time over a whole sequence.

    The hidden state h_t feeds two places: the loss at step t (upstream gradient dh[:, t]) and
    the next step h_{t+1}. Its gradient is the sum of both, so walk from t = T-1 down to 0,
    adding the dprev_h returned by step t+1 to dh[:, t].

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H)
    - cache: RNNCache from rnn_forward

    Returns a tuple of:
    - dx: gradient of the inputs, of shape (N, T, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the bias, of shape (H,)
    """
    ### BEGIN SOLUTION
    # HINT: keep a running dprev_h (zeros at the last step); the gradient flowing into step t is
    # HINT: dh[:, t] + dprev_h. Parameter gradients are summed over the steps.
    N, T, H = dh.shape
    first = cache.steps[0]
    dx = np.zeros((N, T, cache.D), dtype=dh.dtype)
    dWx = np.zeros_like(first.Wx, dtype=dh.dtype)
    dWh = np.zeros_like(first.Wh, dtype=dh.dtype)
    db = np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dnext_h = dh[:, t] + dprev_h
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dnext_h, cache.steps[t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    ### END SOLUTION
    return dx, dh0, dWx, dWh, db


# -- word embedding ------------------------------------------------------------------------
class EmbeddingCache(NamedTuple):
    x: np.ndarray        # (N, T) integer ids
    V: int               # vocabulary size, for the shape of dW


def word_embedding_forward(x, W):
    """Look up the vectors of a minibatch of word ids.

    Inputs:
    - x: integer array of shape (N, T), each entry in [0, V)
    - W: embedding matrix of shape (V, D), one row per word

    Returns a tuple of:
    - out: the embeddings, of shape (N, T, D); out[n, t] = W[x[n, t]]
    - cache: EmbeddingCache
    """
    ### BEGIN SOLUTION
    # HINT: integer-array indexing W[x] gives the (N, T, D) array in one step.
    out = W[x]
    cache = EmbeddingCache(np.array(x), W.shape[0])
    ### END SOLUTION
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of the word embedding.

    A word that occurs several times in the minibatch collects the sum of its gradients.

    Inputs:
    - dout: upstream gradients, of shape (N, T, D)
    - cache: EmbeddingCache

    Returns:
    - dW: gradient of the embedding matrix, of shape (V, D)
    """
    ### BEGIN SOLUTION
    # HINT: a word that occurs twice must receive both of its gradients: fancy-index assignment
    # HINT: keeps only one of them, an unbuffered add keeps all.
    dW = np.zeros((cache.V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dW, cache.x.reshape(-1), dout.reshape(-1, dout.shape[-1]))
    ### END SOLUTION
    return dW


# -- temporal affine -----------------------------------------------------------------------
class TemporalAffineCache(NamedTuple):
    x: np.ndarray        # (N, T, D)
    w: np.ndarray        # (D, M)


def temporal_affine_forward(x, w, b):
    """The same affine layer applied at every timestep (e.g. hidden states to vocabulary scores).

    Inputs (the output size is M, e.g. M = V for scores):
    - x: input data, of shape (N, T, D)
    - w: weights, of shape (D, M)
    - b: biases, of shape (M,)

    Returns a tuple of:
    - out: x @ w + b, of shape (N, T, M)
    - cache: TemporalAffineCache
    """
    ### BEGIN SOLUTION
    # HINT: a matmul broadcasts over the leading (N, T) axes.
    out = x @ w + b
    cache = TemporalAffineCache(x, w)
    ### END SOLUTION
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward pass of the temporal affine layer.

    Inputs:
    - dout: upstream gradients, of shape (N, T, M)
    - cache: TemporalAffineCache

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, T, D)
    - dw: gradient of the weights, of shape (D, M)
    - db: gradient of the biases, of shape (M,)
    """
    ### BEGIN SOLUTION
    # HINT: flatten (N, T) into one axis of N*T rows, then it is an ordinary affine backward.
    D, M = cache.w.shape
    dx = dout @ cache.w.T
    dw = cache.x.reshape(-1, D).T @ dout.reshape(-1, M)
    db = dout.reshape(-1, M).sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


# -- the loss --------------------------------------------------------------------------------
def temporal_softmax_loss(x, y, mask):
    """Softmax cross-entropy at every timestep, averaged over the unmasked (predicted) tokens.

    Unlike cs231n's version (which sums over time and divides by N), the loss is the mean over
    the tokens that count, so exp(loss) is the perplexity of those tokens. Masked positions
    (mask False: padding, or a target that is never predicted such as <s>) contribute neither
    to the loss nor to the gradient. With no unmasked token the loss is 0.0 and dx is zero.
    Scores may be -inf (a token the model never predicts) as long as no target has one.

    Inputs:
    - x: scores, of shape (N, T, V)
    - y: target ids, of shape (N, T), each in [0, V)
    - mask: boolean array of shape (N, T); True where the target counts

    Returns a tuple of:
    - loss: float, -(1 / #unmasked) * sum over unmasked (n, t) of ln softmax(x[n, t])[y[n, t]]
    - dx: gradient of the loss with respect to x, of shape (N, T, V)
    """
    ### BEGIN SOLUTION
    # HINT: shift each row by its maximum before exponentiating (it changes nothing but overflow).
    # HINT: The gradient of softmax cross-entropy compares two distributions over V; masked
    # HINT: positions contribute nothing, to the loss or to its normaliser.
    N, T, V = x.shape
    flat_x = x.reshape(N * T, V)
    flat_y = np.asarray(y).reshape(N * T)
    flat_mask = np.asarray(mask, dtype=bool).reshape(N * T)
    count = max(1, int(flat_mask.sum()))
    shifted = flat_x - flat_x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N * T)
    loss = float(-log_probs[rows, flat_y][flat_mask].sum() / count)
    dx = np.exp(log_probs)
    dx[rows, flat_y] -= 1.0
    dx *= flat_mask[:, None] / count
    dx = dx.reshape(N, T, V)
    ### END SOLUTION
    return loss, dx
