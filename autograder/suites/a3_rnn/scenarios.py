"""Scenarios of a3_rnn: each takes the submission package ``sub`` and a seeded Generator
``rng``, calls the student's code, and returns plain data (judged in the parent).

Gradient checks (``*_gradcheck``) and the torch comparisons (``*_torch``) are self-checks:
they return what the judge needs (analytic and numerical gradients, or the student's values
beside torch autograd's on the same weights) and ignore the reference.
"""
from __future__ import annotations

import math

import numpy as np

from lmcore.batching import bptt_batches, stream
from lmcore.gradcheck import numerical_gradient, numerical_gradient_array
from lmcore.vocab import Vocab

TINY = {
    "tiny": [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat", "ran"],
             ["the", "cat", "ran", "down", "the", "hill"], ["a", "dog", "sat"]],
    "hills": [["up", "the", "hill"], ["down", "the", "hill", "again"], ["the", "hill", "is", "up"],
              ["up", "and", "down"], ["again", "and", "again", "up", "the", "hill"]],
}


def _unchanged(copies, arrays):
    return all(np.array_equal(a, b) for a, b in zip(copies, arrays))


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
            "dWh": dWh, "db": db, "inputs_unchanged": _unchanged(copies, args)}


def rnn_step_gradcheck(sub, rng, N=2, D=3, H=4):
    x, prev_h, Wx, Wh, b = _rnn_inputs(rng, N, D, H)
    dnext_h = rng.standard_normal((N, H))
    L = sub.rnn_layers
    _, cache = L.rnn_step_forward(x, prev_h, Wx, Wh, b)
    analytic = dict(zip(("x", "prev_h", "Wx", "Wh", "b"), L.rnn_step_backward(dnext_h, cache)))
    f = lambda _: L.rnn_step_forward(x, prev_h, Wx, Wh, b)[0]
    numeric = {k: numerical_gradient_array(f, v, dnext_h)
               for k, v in zip(("x", "prev_h", "Wx", "Wh", "b"), (x, prev_h, Wx, Wh, b))}
    return {"analytic": analytic, "numeric": numeric}


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
            "inputs_unchanged": _unchanged(copies, list(args) + [dh])}


def rnn_sequence_gradcheck(sub, rng, N=2, T=4, D=3, H=4):
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, H)
    dh = rng.standard_normal((N, T, H))
    L = sub.rnn_layers
    _, cache = L.rnn_forward(x, h0, Wx, Wh, b)
    analytic = dict(zip(("x", "h0", "Wx", "Wh", "b"), L.rnn_backward(dh, cache)))
    f = lambda _: L.rnn_forward(x, h0, Wx, Wh, b)[0]
    numeric = {k: numerical_gradient_array(f, v, dh)
               for k, v in zip(("x", "h0", "Wx", "Wh", "b"), (x, h0, Wx, Wh, b))}
    return {"analytic": analytic, "numeric": numeric}


def rnn_torch(sub, rng, N=3, T=6, D=4, H=5):
    """The student's rnn_forward/backward beside torch.nn.RNN autograd on the same weights."""
    import torch
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = sub.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = sub.rnn_layers.rnn_backward(dh, cache)
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
    torch_out = {"h": out.detach().numpy(), "dx": tx.grad.numpy(), "dh0": th0.grad[0].numpy(),
                 "dWx": rnn.weight_ih_l0.grad.numpy().T.copy(),
                 "dWh": rnn.weight_hh_l0.grad.numpy().T.copy(), "db": rnn.bias_ih_l0.grad.numpy()}
    return {"ours": {"h": h, "dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db},
            "torch": torch_out}


# -- embedding, temporal affine, loss ---------------------------------------------------------
def embedding(sub, rng, N=2, T=4, V=6, D=3):
    x = rng.integers(0, V, size=(N, T))
    x[0, 0] = x[1, -1]          # a repeated id: its gradients must add up
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, T, D))
    copies = [x.copy(), W.copy(), dout.copy()]
    out, cache = sub.rnn_layers.word_embedding_forward(x, W)
    dW = sub.rnn_layers.word_embedding_backward(dout, cache)
    return {"out": out, "dW": dW, "inputs_unchanged": _unchanged(copies, [x, W, dout])}


def temporal_affine(sub, rng, N=2, T=3, D=4, M=5):
    x = rng.standard_normal((N, T, D))
    w = rng.standard_normal((D, M))
    b = rng.standard_normal(M)
    dout = rng.standard_normal((N, T, M))
    copies = [x.copy(), w.copy(), b.copy(), dout.copy()]
    out, cache = sub.rnn_layers.temporal_affine_forward(x, w, b)
    dx, dw, db = sub.rnn_layers.temporal_affine_backward(dout, cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db,
            "inputs_unchanged": _unchanged(copies, [x, w, b, dout])}


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


def softmax_loss(sub, rng, N=3, T=4, V=7, keep=0.6, torch_oracle=False):
    s = rng.standard_normal((N, T, V)) * 2
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) < keep
    mask[0, 0] = True
    copies = [s.copy(), y.copy(), mask.copy()]
    loss, ds = sub.rnn_layers.temporal_softmax_loss(s, y, mask)
    out = {"loss": loss, "dx": ds, "inputs_unchanged": _unchanged(copies, [s, y, mask]),
           "unmasked": int(mask.sum()), "all_tokens": N * T}
    if torch_oracle:
        import torch
        ts = torch.tensor(s, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(ts.reshape(-1, V),
                                               torch.tensor(np.where(mask, y, -100)).reshape(-1))
        tl.backward()
        out["torch"] = {"loss": float(tl.detach()), "dx": ts.grad.numpy()}
    return out


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
    out.update(next_h=next_h, next_c=next_c, inputs_unchanged=_unchanged(copies, args))
    return out


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
    out.update(h=h, c=c, inputs_unchanged=_unchanged(copies, list(args) + [dh, dc]))
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
    out["inputs_unchanged"] = _unchanged(copies, [Wx, Wh, b])
    return out


def lstm_torch(sub, rng, N=3, T=6, D=4, H=5):
    """The student's LSTM (forward and backward) beside torch.nn.LSTM autograd. The student's
    weights are converted with the student's own lstm_to_torch, so both the gate order of the
    layers and the converter must be right."""
    import torch
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H, 4 * H)
    c0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    L = sub.lstm_layers
    h, c, cache = L.lstm_forward(x, h0, Wx, Wh, b, c0)
    dx, dh0, dc0, dWx, dWh, db = L.lstm_backward(dh, cache)
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
    # torch's weight gradients, back in our layout, through the student's converter's
    # permutation: converting the gradient the same way must give torch's gradient.
    ours_as_torch = L.lstm_to_torch(dWx, dWh, db)
    return {"ours": {"h": h, "c": c, "dx": dx, "dh0": dh0, "dc0": dc0,
                     "dWx": ours_as_torch["weight_ih_l0"], "dWh": ours_as_torch["weight_hh_l0"],
                     "db": ours_as_torch["bias_ih_l0"]},
            "torch": {"h": out.detach().numpy(), "c": tc[0].detach().numpy(),
                      "dx": tx.grad.numpy(), "dh0": th0.grad[0].numpy(),
                      "dc0": tc0.grad[0].numpy(), "dWx": lstm.weight_ih_l0.grad.numpy(),
                      "dWh": lstm.weight_hh_l0.grad.numpy(), "db": lstm.bias_ih_l0.grad.numpy()}}


# -- clipping ------------------------------------------------------------------------------------
def _grads_case(rng, case):
    g = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "v": rng.standard_normal((2, 2))}
    if case == "below":
        g = {k: v * 0.01 for k, v in g.items()}
    elif case == "tiny":
        g = {k: v * 1e-200 for k, v in g.items()}
    elif case == "huge":
        g = {k: v * 1e200 for k, v in g.items()}
    elif case == "large":
        g = {k: v * 1e100 for k, v in g.items()}
    elif case == "inf":
        g["W"][1, 2] = np.inf
    elif case == "neginf":
        g["b"][0] = -np.inf
    elif case == "nan":
        g["v"][0, 1] = np.nan
    elif case == "empty":
        g = {}
    return g


def clip_norm(sub, rng, case="random", max_norm=1.0, error_if_nonfinite=False, torch_oracle=False):
    grads = _grads_case(rng, case)
    copies = {k: v.copy() for k, v in grads.items()}
    out = {"max_norm": float(max_norm)}
    try:
        clipped, norm = sub.clipping.clip_grad_norm(grads, max_norm,
                                                    error_if_nonfinite=error_if_nonfinite)
        out["raised"] = False
        out["norm"] = float(norm)
        out["clipped"] = {k: clipped[k] for k in grads}
    except NotImplementedError:   # a stub is unfinished, not an error_if_nonfinite raise
        raise
    except RuntimeError:
        out["raised"] = True
    out["inputs_unchanged"] = all(np.array_equal(copies[k], grads[k], equal_nan=True) for k in grads)
    if torch_oracle:
        import torch
        params = []
        for k, v in copies.items():
            p = torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64))
            p.grad = torch.tensor(v)
            params.append(p)
        t = {}
        try:
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm, error_if_nonfinite=error_if_nonfinite)
            t["raised"] = False
            t["norm"] = float(norm)
            t["clipped"] = {k: p.grad.numpy() for k, p in zip(copies, params)}
        except RuntimeError:
            t["raised"] = True
        out["torch"] = t
    return out


def clip_value(sub, rng, case="random", clip=0.5):
    grads = _grads_case(rng, case)
    copies = {k: v.copy() for k, v in grads.items()}
    clipped = sub.clipping.clip_grad_value(grads, clip)
    return {"clipped": {k: clipped[k] for k in grads},
            "inputs_unchanged": all(np.array_equal(copies[k], grads[k], equal_nan=True) for k in grads)}


def nonfinite(sub, rng, S=12, bad=None, where="loss"):
    losses = list(5.0 - np.arange(S) * 0.1 + rng.random(S) * 0.01)
    norms = list(rng.random(S) * 3)
    if bad is not None:
        kind = [math.nan, math.inf, -math.inf][int(rng.integers(0, 3))]
        (losses if where == "loss" else norms)[bad] = kind
        # later steps are bad too, as in a real divergence
        for s in range(bad + 1, S):
            losses[s] = math.nan
    step = sub.clipping.first_nonfinite(losses, norms)
    return {"step": step}


# -- the language model ----------------------------------------------------------------------------
def _model(sub, rng, corpus, cell, D=4, H=5, zero=False, Wh_scale=None):
    sentences = TINY[corpus]
    vocab = Vocab.build(sentences, min_count=1)
    model = sub.model.RNNLM(vocab, np.random.default_rng(int(rng.integers(2**31))), D=D, H=H,
                            cell=cell)
    G = 4 * H if cell == "lstm" else H
    V = len(vocab)
    # our own weights, so that the student's initialisation does not matter
    model.params = {
        "W_embed": rng.standard_normal((V, D)) * 0.5,
        "Wx": rng.standard_normal((D, G)) / math.sqrt(D),
        "Wh": rng.standard_normal((H, G)) / math.sqrt(H) * (1.0 if Wh_scale is None else Wh_scale),
        "b": rng.standard_normal(G) * 0.1,
        "W_vocab": rng.standard_normal((H, V)) / math.sqrt(H),
        "b_vocab": rng.standard_normal(V) * 0.1,
    }
    if zero:
        model.params = {k: np.zeros_like(v) for k, v in model.params.items()}
    return model, vocab, sentences


def _padded(vocab, sentences):
    rows = [vocab.encode_padded(s) for s in sentences]
    tokens = np.full((len(rows), max(map(len, rows))), -100, dtype=np.int64)
    for r, row in enumerate(rows):
        tokens[r, :len(row)] = row
    return tokens


def model_loss(sub, rng, corpus="tiny", cell="rnn"):
    model, vocab, sentences = _model(sub, rng, corpus, cell)
    tokens = _padded(vocab, sentences)
    copy = tokens.copy()
    loss, grads, state = model.loss(tokens)
    return {"loss": loss, "grads": {k: grads.get(k) for k in model.params},
            "h": state.h, "inputs_unchanged": bool(np.array_equal(copy, tokens))}


def model_gradcheck(sub, rng, corpus="tiny", cell="rnn"):
    model, vocab, sentences = _model(sub, rng, corpus, cell, D=3, H=3)
    tokens = _padded(vocab, sentences[:3])
    _, grads, _ = model.loss(tokens)
    numeric = {k: numerical_gradient(lambda _: model.loss(tokens)[0], v)
               for k, v in model.params.items()}
    return {"analytic": {k: grads.get(k) for k in model.params}, "numeric": numeric}


def model_closed_form(sub, rng, corpus="tiny", cell="rnn", kind="zero"):
    """A model whose loss is known in closed form.

    zero: all weights 0, so every prediction is uniform over the V - 1 tokens other than <s>
    and the loss is ln(V - 1) whatever the inputs.
    bigram: Wh = 0 and h0 = 0, so the RNN is a bigram model: p(next | current) is a fixed table
    P[current] computed here from the weights. With teacher forcing the loss is the mean of
    -ln P[tokens[t], tokens[t+1]] over the predicted tokens; feeding the model its own
    predictions gives another number.
    """
    model, vocab, sentences = _model(sub, rng, corpus, cell, zero=(kind == "zero"))
    tokens = _padded(vocab, sentences)
    loss, _, _ = model.loss(tokens)
    V = len(vocab)
    if kind == "zero":
        return {"loss": loss, "closed_form": math.log(V - 1)}
    p = model.params
    p["Wh"] = np.zeros_like(p["Wh"])
    loss, _, _ = model.loss(tokens)
    if cell != "rnn":
        raise ValueError("the bigram closed form holds for the vanilla RNN only (an LSTM's "
                         "cell state carries context even when Wh = 0)")
    h = np.tanh(p["W_embed"] @ p["Wx"] + p["b"])       # (V, H): the hidden state after each input
    s = h @ p["W_vocab"] + p["b_vocab"]
    s[:, vocab.bos_id] = -np.inf
    logP = s - s.max(axis=1, keepdims=True)
    logP = logP - np.log(np.exp(logP).sum(axis=1, keepdims=True))
    nll = [-logP[a_, b_] for row in tokens for a_, b_ in zip(row[:-1], row[1:]) if b_ >= 0]
    return {"loss": loss, "closed_form": float(np.mean(nll))}


def torch_scores(p: dict, e, cell: str, H: int):
    """The course's RNN/LSTM LM in torch, written from the equations (our gate order i, f, o, g):
    the second oracle beside autograd. p: parameter tensors; e: (N, T, D) embedded inputs.
    Returns the (N, T, V) scores from a zero state (``benchmarks/bench_rnn.py`` times it too)."""
    import torch
    N, T, _ = e.shape
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64)
    hs = []
    for t in range(T):
        a = e[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"]
        if cell == "lstm":
            i, f, o = (torch.sigmoid(a[:, k * H:(k + 1) * H]) for k in range(3))
            c = f * c + i * torch.tanh(a[:, 3 * H:])
            h = o * torch.tanh(c)
        else:
            h = torch.tanh(a)
        hs.append(h)
    return torch.stack(hs, 1) @ p["W_vocab"] + p["b_vocab"]


def model_torch(sub, rng, corpus="tiny", cell="rnn"):
    """The student's model loss and gradients beside the same network in torch autograd."""
    import torch
    model, vocab, sentences = _model(sub, rng, corpus, cell)
    tokens = _padded(vocab, sentences)
    loss, grads, _ = model.loss(tokens)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    x = torch.tensor(np.where(tokens[:, :-1] < 0, 0, tokens[:, :-1]))
    y = torch.tensor(np.where(tokens[:, 1:] == vocab.bos_id, -100, tokens[:, 1:]))
    s = torch_scores(p, p["W_embed"][x], cell, model.H)
    s = s.masked_fill(torch.arange(len(vocab)) == vocab.bos_id, float("-inf"))
    tl = torch.nn.functional.cross_entropy(s.reshape(-1, len(vocab)), y.reshape(-1))
    tl.backward()
    return {"ours": {"loss": loss, "grads": {k: grads.get(k) for k in p}},
            "torch": {"loss": float(tl.detach()), "grads": {k: v.grad.numpy() for k, v in p.items()}}}


def tbptt(sub, rng, corpus="tiny", cell="rnn", N=2, T=3):
    model, vocab, sentences = _model(sub, rng, corpus, cell)
    ids = stream(sentences, vocab)
    copy = ids.copy()
    losses, grads, leaks = [], [], []
    chunks = list(bptt_batches(ids, N, T))
    for k, (loss, g) in enumerate(sub.model.truncated_bptt(model, ids, N, T)):
        losses.append(loss)
        grads.append({name: g.get(name) for name in model.params})
        # the embedding rows of ids that are not inputs of this chunk get no gradient
        outside = np.setdiff1d(np.arange(len(vocab)), chunks[k][0]) if k < len(chunks) else []
        leaks.append(float(np.abs(np.asarray(g["W_embed"])[outside]).max()) if len(outside) else 0.0)
    return {"losses": losses, "grads": grads, "chunks": len(chunks),
            "outside_chunk_grad": leaks, "inputs_unchanged": bool(np.array_equal(copy, ids))}


def sampling(sub, rng, corpus="tiny", cell="rnn", n=4, max_tokens=12, prompt=()):
    model, vocab, _ = _model(sub, rng, corpus, cell)
    seed = int(rng.integers(2**31))
    ours = [model.sample(np.random.default_rng(seed + k), max_tokens=max_tokens, prompt=list(prompt))
            for k in range(n)]
    from lmcore.lm import generate
    lm = [generate(model, np.random.default_rng(seed + k), max_tokens=max_tokens, prompt=list(prompt))
          for k in range(n)]
    return {"samples": ours, "generate": lm}


def interface(sub, rng, corpus="tiny", cell="rnn"):
    """The LanguageModel interface (provided code over the student's layers): distributions
    after a few contexts, logprobs of three sentences read as one stream, and the same two
    things recomputed one step at a time with model.step (the state carried throughout)."""
    model, vocab, sentences = _model(sub, rng, corpus, cell)
    contexts = [[], ["the"], ["the", "cat"], ["a", "zebra"]]
    dists = np.array([model.next_distribution(c) for c in contexts])
    lp = model.logprobs(sentences[:3])
    from lmcore.batching import stream
    ids = stream(sentences[:3], vocab)
    stepped, state = [], model.initial_state(1)
    for prev, nxt in zip(ids[:-1], ids[1:]):
        p, state = model.step(np.array([prev]), state)
        stepped.append(float(np.log(p[0, nxt])))
    start = [model.start_id, *vocab.encode(contexts[2])]
    state = model.initial_state(1)
    for idx in start:
        p, state = model.step(np.array([idx]), state)
    return {"dists": dists, "bos_prob": dists[:, vocab.bos_id], "logprobs": lp,
            "stream_stepped": stepped, "after_context_stepped": p[0].astype(np.float64)}


def grad_distance(sub, rng, corpus="tiny", cell="rnn", N=3, T=8, Wh_scale=None):
    model, vocab, _ = _model(sub, rng, corpus, cell, Wh_scale=Wh_scale)
    tokens = rng.integers(3, len(vocab), size=(N, T + 1))
    copy = tokens.copy()
    norms = sub.model.grad_norm_vs_distance(model, tokens)
    return {"norms": norms, "inputs_unchanged": bool(np.array_equal(copy, tokens))}
