"""The LSTM, cs231n style. Letters: minibatch N, sequence length T, input dimension D, hidden H.

Gate order, stated once for the whole course: the 4H columns of Wx, Wh and b are the gates

    i (input) = a[:, 0H:1H],  f (forget) = a[:, 1H:2H],  o (output) = a[:, 2H:3H],  g (cell) = a[:, 3H:4H]

where a = x @ Wx + prev_h @ Wh + b has shape (N, 4H). torch.nn.LSTM stores (i, f, g, o) as rows
instead; ``lstm_to_torch`` converts (a4 loads these weights into torch).

    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    next_c = f * prev_c + i * g;  next_h = o * tanh(next_c)

The cell state's gradient flows back through ``f`` alone (no squashing, no weight matrix), which
is why the LSTM keeps gradients alive over long distances.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

GATES = ("i", "f", "o", "g")          # this course's order of the four blocks of 4H
TORCH_GATES = ("i", "f", "g", "o")    # torch.nn.LSTM's order


def sigmoid(x):
    """A numerically stable logistic sigmoid (no overflow for large |x|). Provided."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


class LSTMStepCache(NamedTuple):
    x: np.ndarray        # (N, D)
    prev_h: np.ndarray   # (N, H)
    prev_c: np.ndarray   # (N, H)
    Wx: np.ndarray       # (D, 4H)
    Wh: np.ndarray       # (H, 4H)
    i: np.ndarray        # (N, H) gates after their nonlinearities
    f: np.ndarray
    o: np.ndarray
    g: np.ndarray
    tanh_c: np.ndarray   # (N, H) tanh(next_c)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One timestep of an LSTM.

    Inputs:
    - x: input data, of shape (N, D)
    - prev_h: previous hidden state, of shape (N, H)
    - prev_c: previous cell state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H), gate blocks in order (i, f, o, g)
    - Wh: hidden-to-hidden weights, of shape (H, 4H), same order
    - b: biases, of shape (4H,), same order

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - next_c: next cell state, of shape (N, H)
    - cache: LSTMStepCache
    """
    next_h, next_c, cache = None, None, None
    # Hint: one affine map gives the four gates' pre-activations side by side, in the order
    # Hint: (i, f, o, g); each gate then has its own nonlinearity.
    raise NotImplementedError("lstm_step_forward: write this part")
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM timestep.

    Inputs:
    - dnext_h: gradient of the next hidden state, of shape (N, H)
    - dnext_c: gradient of the next cell state, of shape (N, H)
    - cache: LSTMStepCache

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dprev_c: gradient of the previous cell state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    dx, dprev_h, dprev_c, dWx, dWh, db = None, None, None, None, None, None
    # Hint: next_c reaches the loss directly (dnext_c) and through next_h = o * tanh(next_c).
    # Hint: sigmoid' = s (1 - s) and tanh' = 1 - t^2, written with the gate values in the cache.
    raise NotImplementedError("lstm_step_backward: write this part")
    return dx, dprev_h, dprev_c, dWx, dWh, db


class LSTMCache(NamedTuple):
    steps: list          # T LSTMStepCache
    D: int


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run an LSTM forward over a whole sequence. The cell state starts at c0 (zeros if None).

    Inputs:
    - x: input data, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: biases, of shape (4H,)
    - c0: initial cell state, of shape (N, H), or None for zeros

    Returns a tuple of:
    - h: hidden states for every timestep, of shape (N, T, H)
    - c: the last cell state, of shape (N, H) (carried between chunks in truncated BPTT)
    - cache: LSTMCache
    """
    h, c, cache = None, None, None
    # Hint: the same loop as rnn_forward, carrying both prev_h and prev_c.
    raise NotImplementedError("lstm_forward: write this part")
    return h, c, cache


def lstm_backward(dh, cache, dc_last=None):
    """Backpropagation through time for the LSTM.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H)
    - cache: LSTMCache
    - dc_last: gradient of the last cell state, of shape (N, H), or None for zeros

    Returns a tuple of:
    - dx: gradient of the inputs, of shape (N, T, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dc0: gradient of the initial cell state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    dx, dh0, dc0, dWx, dWh, db = None, None, None, None, None, None
    # Hint: as rnn_backward, with a running dprev_c as well as dprev_h.
    raise NotImplementedError("lstm_backward: write this part")
    return dx, dh0, dc0, dWx, dWh, db


def lstm_to_torch(Wx, Wh, b):
    """Convert this course's LSTM weights to torch.nn.LSTM's single-layer parameters.

    torch computes a = x W_ih^T + b_ih + h W_hh^T + b_hh with the 4H rows in gate order
    (i, f, g, o); ours are columns in order (i, f, o, g).

    Inputs:
    - Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate blocks in order (i, f, o, g)

    Returns a dict of new float arrays (the inputs are not modified):
    - "weight_ih_l0": (4H, D), "weight_hh_l0": (4H, H), "bias_ih_l0": (4H,) equal to b
      reordered, "bias_hh_l0": (4H,) zeros; all with rows in torch's order (i, f, g, o)
    """
    params = None
    # Hint: build the permutation of the 4H columns from GATES to TORCH_GATES, then transpose.
    raise NotImplementedError("lstm_to_torch: write this part")
    return params
