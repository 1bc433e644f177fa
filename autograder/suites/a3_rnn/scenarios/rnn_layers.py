"""Scenarios of a3_rnn: rnn_layers.py."""
from __future__ import annotations

import math
import numpy as np
from lmcore.gradcheck import numerical_gradient, numerical_gradient_array
from autograder.authoring import fixtures as F


# -- vanilla RNN -------------------------------------------------------------------------------
def _rnn_inputs(rng, N, D, H, scale=1.0):
    x = rng.standard_normal((N, D))
    prev_h = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, H)) * scale / math.sqrt(D)
    Wh = rng.standard_normal((H, H)) * scale / math.sqrt(H)
    b = rng.standard_normal(H) * 0.1
    return x, prev_h, Wx, Wh, b


def rnn_step(sub, rng, N=3, D=4, H=5):
    args = _rnn_inputs(rng, N, D, H)
    dnext_h = rng.standard_normal((N, H))
    copies = [a.copy() for a in args]
    next_h, cache = sub.rnn_layers.rnn_step_forward(*args)
    dx, dprev_h, dWx, dWh, db = sub.rnn_layers.rnn_step_backward(dnext_h.copy(), cache)
    return {"next_h": next_h, "dnext_h": dnext_h, "dx": dx, "dprev_h": dprev_h, "dWx": dWx,
            "dWh": dWh, "db": db, "inputs_unchanged": F.unchanged(copies, args)}


def _gradcheck(forward, backward, names, args, dout):
    """The backward's gradients beside numerical ones of the student's own forward (whose
    first output ``dout`` flows into), keyed by the inputs' ``names``."""
    _, cache = forward(*args)
    analytic = dict(zip(names, backward(dout, cache)))
    f = lambda _: forward(*args)[0]  # noqa: E731
    numeric = {k: numerical_gradient_array(f, v, dout) for k, v in zip(names, args)}
    return {"analytic": analytic, "numeric": numeric}


def rnn_step_gradcheck(sub, rng, N=2, D=3, H=4):
    args = _rnn_inputs(rng, N, D, H)
    dnext_h = rng.standard_normal((N, H))
    L = sub.rnn_layers
    return _gradcheck(L.rnn_step_forward, L.rnn_step_backward, ("x", "prev_h", "Wx", "Wh", "b"),
                      args, dnext_h)


def _seq_inputs(rng, N, T, D, H, G, scale=1.0):
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, G)) * scale / math.sqrt(D)
    Wh = rng.standard_normal((H, G)) * scale / math.sqrt(H)
    b = rng.standard_normal(G) * 0.1
    return x, h0, Wx, Wh, b


def rnn_sequence(sub, rng, N=2, T=5, D=3, H=4):
    args = _seq_inputs(rng, N, T, D, H, H)
    dh = rng.standard_normal((N, T, H))
    copies = [a.copy() for a in args] + [dh.copy()]
    h, cache = sub.rnn_layers.rnn_forward(*args)
    dx, dh0, dWx, dWh, db = sub.rnn_layers.rnn_backward(dh, cache)
    return {"h": h, "dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db,
            "inputs_unchanged": F.unchanged(copies, list(args) + [dh])}


def rnn_sequence_gradcheck(sub, rng, N=2, T=4, D=3, H=4):
    args = _seq_inputs(rng, N, T, D, H, H)
    dh = rng.standard_normal((N, T, H))
    L = sub.rnn_layers
    return _gradcheck(L.rnn_forward, L.rnn_backward, ("x", "h0", "Wx", "Wh", "b"), args, dh)


def rnn_torch(sub, rng, N=3, T=6, D=4, H=5, oracle=False):
    """The student's rnn_forward/backward; ``oracle`` (the reference's run of the test):
    torch.nn.RNN autograd on the same weights, under "torch"."""
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = sub.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = sub.rnn_layers.rnn_backward(dh, cache)
    ours = {"ours": {"h": h, "dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db}}
    if not oracle:
        return ours
    import torch
    rnn = torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh").double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    out, _ = rnn(tx, th0)
    (out * torch.tensor(dh)).sum().backward()
    return {**ours, "torch": {"h": out.detach().numpy(), "dx": tx.grad.numpy(),
                              "dh0": th0.grad[0].numpy(),
                              "dWx": rnn.weight_ih_l0.grad.numpy().T.copy(),
                              "dWh": rnn.weight_hh_l0.grad.numpy().T.copy(),
                              "db": rnn.bias_ih_l0.grad.numpy()}}



# -- embedding, temporal affine, loss ---------------------------------------------------------
def embedding(sub, rng, N=2, T=4, V=6, D=3):
    x = rng.integers(0, V, size=(N, T))
    x[0, 0] = x[1, -1]          # a repeated id: its gradients must add up
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, T, D))
    copies = [x.copy(), W.copy(), dout.copy()]
    out, cache = sub.rnn_layers.word_embedding_forward(x, W)
    dW = sub.rnn_layers.word_embedding_backward(dout, cache)
    return {"out": out, "dW": dW, "inputs_unchanged": F.unchanged(copies, [x, W, dout])}


def temporal_affine(sub, rng, N=2, T=3, D=4, M=5):
    x = rng.standard_normal((N, T, D))
    w = rng.standard_normal((D, M))
    b = rng.standard_normal(M)
    dout = rng.standard_normal((N, T, M))
    copies = [x.copy(), w.copy(), b.copy(), dout.copy()]
    out, cache = sub.rnn_layers.temporal_affine_forward(x, w, b)
    dx, dw, db = sub.rnn_layers.temporal_affine_backward(dout, cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db,
            "inputs_unchanged": F.unchanged(copies, [x, w, b, dout])}


def layers_gradcheck(sub, rng, N=2, T=3, D=4, M=5, V=6):
    L = sub.rnn_layers
    x = rng.standard_normal((N, T, D))
    w = rng.standard_normal((D, M))
    b = rng.standard_normal(M)
    dout = rng.standard_normal((N, T, M))
    _, cache = L.temporal_affine_forward(x, w, b)
    dx, dw, db = L.temporal_affine_backward(dout, cache)
    f = lambda _: L.temporal_affine_forward(x, w, b)[0]
    ids = rng.integers(0, V, size=(N, T))
    W = rng.standard_normal((V, D))
    demb = rng.standard_normal((N, T, D))
    _, ecache = L.word_embedding_forward(ids, W)
    s = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    mask[0, 0] = True
    _, ds = L.temporal_softmax_loss(s, y, mask)
    return {
        "analytic": {"affine.x": dx, "affine.w": dw, "affine.b": db,
                     "embedding.W": L.word_embedding_backward(demb, ecache), "loss.x": ds},
        "numeric": {
            "affine.x": numerical_gradient_array(f, x, dout),
            "affine.w": numerical_gradient_array(f, w, dout),
            "affine.b": numerical_gradient_array(f, b, dout),
            "embedding.W": numerical_gradient_array(
                lambda _: L.word_embedding_forward(ids, W)[0], W, demb),
            "loss.x": numerical_gradient(lambda _: L.temporal_softmax_loss(s, y, mask)[0], s),
        },
    }


def softmax_loss(sub, rng, N=3, T=4, V=7, keep=0.6, oracle=False):
    """The student's masked temporal softmax loss; ``oracle`` (the reference's run of an oracle
    test): torch's cross_entropy with ignore_index on the same scores, under "torch"."""
    s = rng.standard_normal((N, T, V)) * 2
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) < keep
    mask[0, 0] = True
    copies = [s.copy(), y.copy(), mask.copy()]
    loss, ds = sub.rnn_layers.temporal_softmax_loss(s, y, mask)
    out = {"loss": loss, "dx": ds, "inputs_unchanged": F.unchanged(copies, [s, y, mask]),
           "unmasked": int(mask.sum()), "all_tokens": N * T}
    if oracle:
        import torch
        ts = torch.tensor(s, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(ts.reshape(-1, V),
                                               torch.tensor(np.where(mask, y, -100)).reshape(-1))
        tl.backward()
        out["torch"] = {"loss": float(tl.detach()), "dx": ts.grad.numpy()}
    return out
