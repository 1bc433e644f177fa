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
    next_h, cache = None, None
    # Hint: the docstring's formula is two matrix products and a bias; the backward will need
    # Hint: the step's output, so keep it in the cache.
    raise NotImplementedError("rnn_step_forward: write this part")
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
    dx, dprev_h, dWx, dWh, db = None, None, None, None, None
    # Hint: d tanh(a)/da = 1 - tanh(a)^2, and tanh(a) is next_h (not the pre-activation a).
    raise NotImplementedError("rnn_step_backward: write this part")
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
    h, cache = None, None
    # Hint: loop over t with rnn_step_forward, feeding each step's output into the next step.
    raise NotImplementedError("rnn_forward: write this part")
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
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    # Hint: keep a running dprev_h (zeros at the last step); the gradient flowing into step t is
    # Hint: dh[:, t] + dprev_h. Parameter gradients are summed over the steps.
    raise NotImplementedError("rnn_backward: write this part")
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
    out, cache = None, None
    # Hint: integer-array indexing W[x] gives the (N, T, D) array in one step.
    raise NotImplementedError("word_embedding_forward: write this part")
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
    dW = None
    # Hint: a word that occurs twice must receive both of its gradients: fancy-index assignment
    # Hint: keeps only one of them, an unbuffered add keeps all.
    raise NotImplementedError("word_embedding_backward: write this part")
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
    out, cache = None, None
    # Hint: a matmul broadcasts over the leading (N, T) axes.
    raise NotImplementedError("temporal_affine_forward: write this part")
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
    dx, dw, db = None, None, None
    # Hint: flatten (N, T) into one axis of N*T rows, then it is an ordinary affine backward.
    raise NotImplementedError("temporal_affine_backward: write this part")
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
    loss, dx = None, None
    # Hint: shift each row by its maximum before exponentiating (it changes nothing but overflow).
    # Hint: The gradient of softmax cross-entropy compares two distributions over V; masked
    # Hint: positions contribute nothing, to the loss or to its normaliser.
    raise NotImplementedError("temporal_softmax_loss: write this part")
    return loss, dx
