"""Scenarios of a3_rnn: lstm_layers.py."""
from __future__ import annotations

import numpy as np
from lmcore.gradcheck import numerical_gradient_array
from autograder.suites.a3_rnn.scenarios.rnn_layers import _seq_inputs
from autograder.authoring import fixtures as F


# -- LSTM ----------------------------------------------------------------------------------------
def lstm_step(sub, rng, N=3, D=4, H=5):
    x, prev_h, Wx, Wh, b = _seq_inputs(rng, N, 1, D, H, 4 * H)
    x = x[:, 0]
    prev_c = rng.standard_normal((N, H))
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    args = (x, prev_h, prev_c, Wx, Wh, b)
    copies = [a.copy() for a in args]
    next_h, next_c, cache = sub.lstm_layers.lstm_step_forward(*args)
    grads = sub.lstm_layers.lstm_step_backward(dnext_h, dnext_c, cache)
    out = dict(zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), grads))
    out.update(next_h=next_h, next_c=next_c, inputs_unchanged=F.unchanged(copies, args))
    # your forward on weights whose four gate blocks are reordered: one of these is right
    # when your code reads the gates in another order than (i, f, o, g)
    out["gate_perms"] = [np.concatenate(sub.lstm_layers.lstm_step_forward(
        x, prev_h, prev_c, *_gates_reordered(order, Wx, Wh, b))[:2], axis=1)
        for order in GATE_ORDERS]
    return out


GATE_ORDERS = [list(p) for p in __import__("itertools").permutations(range(4)) if p != (0, 1, 2, 3)]


def _gates_reordered(order, *weights):
    """Each weight's last axis cut into its 4 gate blocks, put back in ``order``."""
    return [np.concatenate([np.split(w, 4, axis=-1)[k] for k in order], axis=-1) for w in weights]


def lstm_step_gradcheck(sub, rng, N=2, D=3, H=3):
    x, prev_h, Wx, Wh, b = _seq_inputs(rng, N, 1, D, H, 4 * H)
    x = x[:, 0]
    prev_c = rng.standard_normal((N, H))
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    L = sub.lstm_layers
    _, _, cache = L.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    names = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")
    analytic = dict(zip(names, L.lstm_step_backward(dnext_h, dnext_c, cache)))

    def f(_):
        h, c, _ = L.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        return np.concatenate([h, c], axis=1)
    up = np.concatenate([dnext_h, dnext_c], axis=1)
    numeric = {k: numerical_gradient_array(f, v, up)
               for k, v in zip(names, (x, prev_h, prev_c, Wx, Wh, b))}
    return {"analytic": analytic, "numeric": numeric}


def lstm_sequence(sub, rng, N=2, T=5, D=3, H=4):
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, 4 * H)
    c0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    dc = rng.standard_normal((N, H))
    args = (x, h0, Wx, Wh, b, c0)
    copies = [a.copy() for a in args] + [dh.copy(), dc.copy()]
    h, c, cache = sub.lstm_layers.lstm_forward(*args)
    grads = sub.lstm_layers.lstm_backward(dh, cache, dc)
    out = dict(zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), grads))
    out.update(h=h, c=c, inputs_unchanged=F.unchanged(copies, list(args) + [dh, dc]))
    out["gate_perms"] = [sub.lstm_layers.lstm_forward(x, h0, *_gates_reordered(order, Wx, Wh, b),
                                                      c0)[0] for order in GATE_ORDERS]
    return out


def lstm_sequence_gradcheck(sub, rng, N=2, T=3, D=3, H=3):
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, 4 * H)
    c0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    L = sub.lstm_layers
    _, _, cache = L.lstm_forward(x, h0, Wx, Wh, b, c0)
    names = ("x", "h0", "c0", "Wx", "Wh", "b")
    analytic = dict(zip(names, L.lstm_backward(dh, cache)))
    f = lambda _: L.lstm_forward(x, h0, Wx, Wh, b, c0)[0]
    numeric = {k: numerical_gradient_array(f, v, dh)
               for k, v in zip(names, (x, h0, c0, Wx, Wh, b))}
    return {"analytic": analytic, "numeric": numeric}


def lstm_converter(sub, rng, D=3, H=2):
    Wx = rng.standard_normal((D, 4 * H))
    Wh = rng.standard_normal((H, 4 * H))
    b = rng.standard_normal(4 * H)
    copies = [Wx.copy(), Wh.copy(), b.copy()]
    params = sub.lstm_layers.lstm_to_torch(Wx, Wh, b)
    out = {k: params.get(k) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
    out["inputs_unchanged"] = F.unchanged(copies, [Wx, Wh, b])
    return out


def lstm_torch(sub, rng, N=3, T=6, D=4, H=5, oracle=False):
    """The student's LSTM (forward and backward), its weight gradients put in torch's layout
    by the student's own lstm_to_torch; ``oracle`` (the reference's run of the test):
    torch.nn.LSTM autograd on the same weights (in torch's layout by the reference's
    converter), under "torch". So the gate order of the layers and the converter must both be
    right."""
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, 4 * H)
    c0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    L = sub.lstm_layers
    h, c, cache = L.lstm_forward(x, h0, Wx, Wh, b, c0)
    dx, dh0, dc0, dWx, dWh, db = L.lstm_backward(dh, cache)
    # the gradients in torch's layout through the student's converter's permutation:
    # converting the gradient the same way must give torch's gradient
    ours_as_torch = L.lstm_to_torch(dWx, dWh, db)
    ours = {"ours": {"h": h, "c": c, "dx": dx, "dh0": dh0, "dc0": dc0,
                     "dWx": ours_as_torch["weight_ih_l0"], "dWh": ours_as_torch["weight_hh_l0"],
                     "db": ours_as_torch["bias_ih_l0"]}}
    if not oracle:
        return ours
    import torch
    params = L.lstm_to_torch(Wx, Wh, b)
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(lstm, name).copy_(torch.tensor(np.asarray(value, dtype=np.float64)))
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tc0 = torch.tensor(c0[None], requires_grad=True)
    out, (_, tc) = lstm(tx, (th0, tc0))
    (out * torch.tensor(dh)).sum().backward()
    return {**ours,
            "torch": {"h": out.detach().numpy(), "c": tc[0].detach().numpy(),
                      "dx": tx.grad.numpy(), "dh0": th0.grad[0].numpy(),
                      "dc0": tc0.grad[0].numpy(), "dWx": lstm.weight_ih_l0.grad.numpy(),
                      "dWh": lstm.weight_hh_l0.grad.numpy(), "db": lstm.bias_ih_l0.grad.numpy()}}
