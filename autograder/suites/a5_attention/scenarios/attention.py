"""Scenarios of a5_attention: attention.py."""
from __future__ import annotations

import math
import numpy as np
from lmcore.gradcheck import numerical_gradient_array
from autograder.suites.a5_attention.scenarios.common import _make_mask, _swap, _unchanged, _variants


# -- attention.py: the causal mask and the masked softmax ------------------------------------
def causal(sub, rng, T=5):
    mask = sub.attention.causal_mask(T)
    return {"mask": mask,
            "variants": {"sees_next": np.tri(T, T, 1, dtype=bool),
                         "sees_future": np.triu(np.ones((T, T), dtype=bool))}}


def softmax(sub, rng, N=2, Tq=3, Tk=4, mask="random", scale=1.0):
    A = sub.attention
    scores = rng.standard_normal((N, Tq, Tk)) * scale
    m = _make_mask(rng, mask, (N,), Tq, Tk)
    dprobs = rng.standard_normal((N, Tq, Tk))
    copies = [scores.copy(), None if m is None else m.copy(), dprobs.copy()]
    probs, cache = A.masked_softmax_forward(scores, m)
    dscores = A.masked_softmax_backward(dprobs, cache)
    unchanged = _unchanged(copies, [scores, m, dprobs])
    allowed = np.ones_like(scores, dtype=bool) if m is None else np.broadcast_to(m, scores.shape)
    return {"probs": probs, "dscores": dscores, "inputs_unchanged": unchanged,
            "empty_rows": ~allowed.any(axis=-1), "scale": float(scale),
            "variants": _variants(
                mask_after=lambda: A.masked_softmax_forward(scores, None)[0] * allowed,
                wrong_axis=lambda: _swap(A.masked_softmax_forward(_swap(scores), _swap(m))[0]))}


def softmax_gradcheck(sub, rng, N=2, Tq=3, Tk=4, mask="random"):
    A = sub.attention
    scores = rng.standard_normal((N, Tq, Tk))
    m = _make_mask(rng, mask, (N,), Tq, Tk)
    dprobs = rng.standard_normal((N, Tq, Tk))
    _, cache = A.masked_softmax_forward(scores, m)
    analytic = {"scores": A.masked_softmax_backward(dprobs, cache)}
    f = lambda _: A.masked_softmax_forward(scores, m)[0]
    return {"analytic": analytic, "numeric": {"scores": numerical_gradient_array(f, scores, dprobs)}}



# -- scaled dot-product attention ---------------------------------------------------------------
def _qkv(rng, lead, Tq, Tk, d_k, d_v, scale=1.0):
    return (rng.standard_normal((*lead, Tq, d_k)) * scale,
            rng.standard_normal((*lead, Tk, d_k)) * scale, rng.standard_normal((*lead, Tk, d_v)))


def attention(sub, rng, N=2, h=2, Tq=4, Tk=4, d_k=3, d_v=5, mask="causal", scale=1.0):
    A = sub.attention
    q, k, v = _qkv(rng, (N, h), Tq, Tk, d_k, d_v, scale)
    m = _make_mask(rng, mask, (N, h), Tq, Tk)
    dout = rng.standard_normal((N, h, Tq, d_v))
    args = [q, k, v, m, dout]
    copies = [None if a is None else a.copy() for a in args]
    out, cache = A.attention_forward(q, k, v, m)
    dq, dk, dv = A.attention_backward(dout, cache)
    unchanged = _unchanged(copies, args)
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)
    allowed = np.ones(s.shape, dtype=bool) if m is None else np.broadcast_to(m, s.shape)
    return {"out": out, "dq": dq, "dk": dk, "dv": dv, "inputs_unchanged": unchanged,
            "variants": _variants(
                no_scale=lambda: A.attention_forward(q * math.sqrt(d_k), k, v, m)[0],
                mask_after=lambda: (A.masked_softmax_forward(s, None)[0] * allowed) @ v,
                wrong_axis=lambda: _swap(A.masked_softmax_forward(_swap(s), _swap(m))[0]) @ v)}


def attention_gradcheck(sub, rng, N=1, h=2, Tq=3, Tk=3, d_k=2, d_v=3, mask="causal"):
    A = sub.attention
    q, k, v = _qkv(rng, (N, h), Tq, Tk, d_k, d_v)
    m = _make_mask(rng, mask, (N, h), Tq, Tk)
    dout = rng.standard_normal((N, h, Tq, d_v))
    _, cache = A.attention_forward(q, k, v, m)
    analytic = dict(zip(("q", "k", "v"), A.attention_backward(dout, cache)))
    f = lambda _: A.attention_forward(q, k, v, m)[0]
    return {"analytic": analytic,
            "numeric": {n: numerical_gradient_array(f, a, dout) for n, a in zip("qkv", (q, k, v))}}


def attention_torch(sub, rng, N=2, h=3, T=5, d_k=4, d_v=4, oracle=False):
    """The student's causal attention; ``oracle`` (the reference's run): torch's
    F.scaled_dot_product_attention (is_causal=True) and its autograd, float64, under "torch"."""
    q, k, v = _qkv(rng, (N, h), T, T, d_k, d_v)
    dout = rng.standard_normal((N, h, T, d_v))
    out, cache = sub.attention.attention_forward(q, k, v, np.tril(np.ones((T, T), dtype=bool)))
    dq, dk, dv = sub.attention.attention_backward(dout, cache)
    ours = {"ours": {"out": out, "dq": dq, "dk": dk, "dv": dv}}
    if not oracle:
        return ours
    import torch
    import torch.nn.functional as F
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    y = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    (y * torch.tensor(dout)).sum().backward()
    return {**ours, "torch": {"out": y.detach().numpy(), "dq": tq.grad.numpy(),
                              "dk": tk.grad.numpy(), "dv": tv.grad.numpy()}}



# -- heads and multi-head attention ---------------------------------------------------------------
def heads(sub, rng, N=2, T=3, h=2, d_k=2):
    A = sub.attention
    D = h * d_k
    x = rng.standard_normal((N, T, D))
    y = rng.standard_normal((N, h, T, d_k))
    copies = [x.copy(), y.copy()]
    split = A.split_heads(x, h)
    merged = A.merge_heads(y)
    roundtrip = A.merge_heads(A.split_heads(x, h))
    return {"split": np.asarray(split), "merged": np.asarray(merged),
            "roundtrip": np.asarray(roundtrip), "inputs_unchanged": _unchanged(copies, [x, y]),
            "variants": {"merge_no_transpose": y.reshape(N, T, D),
                         "split_no_transpose": x.reshape(N, h, T, d_k)}}


def _mha_weights(rng, D):
    return (rng.standard_normal((D, 3 * D)) / math.sqrt(D), rng.standard_normal(3 * D) * 0.3,
            rng.standard_normal((D, D)) / math.sqrt(D), rng.standard_normal(D) * 0.3)


def mha(sub, rng, N=2, T=4, D=6, h=2, mask="causal_default"):
    A = sub.attention
    x = rng.standard_normal((N, T, D))
    W_qkv, b_qkv, W_o, b_o = _mha_weights(rng, D)
    m = None if mask == "causal_default" else _make_mask(rng, mask, (N, h), T, T)
    dout = rng.standard_normal((N, T, D))
    args = [x, W_qkv, b_qkv, W_o, b_o, m, dout]
    copies = [None if a is None else a.copy() for a in args]
    out, cache = A.multihead_attention_forward(x, W_qkv, b_qkv, W_o, b_o, h, m)
    grads = A.multihead_attention_backward(dout, cache)
    unchanged = _unchanged(copies, args)
    r = np.ones(3 * D)
    r[:D] = math.sqrt(D // h)     # queries scaled by sqrt(d_k): the 1/sqrt(d_k) undone
    return {"out": out, **dict(zip(("dx", "dW_qkv", "db_qkv", "dW_o", "db_o"), grads)),
            "inputs_unchanged": unchanged,
            "variants": _variants(
                sees_next=lambda: A.multihead_attention_forward(
                    x, W_qkv, b_qkv, W_o, b_o, h, np.tri(T, T, 1, dtype=bool))[0],
                no_scale=lambda: A.multihead_attention_forward(
                    x, W_qkv * r, b_qkv * r, W_o, b_o, h, m)[0])}


def mha_gradcheck(sub, rng, N=1, T=3, D=4, h=2):
    """The keys' bias gets no gradient in exact arithmetic (it adds q . b_k to every score of
    a row, and the softmax ignores a constant per row), so its numerical gradient is pure
    rounding noise: only the query and value biases are checked."""
    A = sub.attention
    x = rng.standard_normal((N, T, D))
    W_qkv, b_qkv, W_o, b_o = _mha_weights(rng, D)
    dout = rng.standard_normal((N, T, D))
    _, cache = A.multihead_attention_forward(x, W_qkv, b_qkv, W_o, b_o, h)
    dx, dW_qkv, db_qkv, dW_o, db_o = A.multihead_attention_backward(dout, cache)
    f = lambda _: A.multihead_attention_forward(x, W_qkv, b_qkv, W_o, b_o, h)[0]
    num = {n: numerical_gradient_array(f, a, dout)
           for n, a in (("x", x), ("W_qkv", W_qkv), ("b_qkv", b_qkv), ("W_o", W_o), ("b_o", b_o))}
    keep = np.r_[0:D, 2 * D:3 * D]
    db_qkv = np.asarray(db_qkv)
    return {"analytic": {"x": dx, "W_qkv": dW_qkv, "b_q,b_v": db_qkv[keep] if db_qkv.shape == (3 * D,)
                         else db_qkv, "W_o": dW_o, "b_o": db_o},
            "numeric": {"x": num["x"], "W_qkv": num["W_qkv"], "b_q,b_v": num["b_qkv"][keep],
                        "W_o": num["W_o"], "b_o": num["b_o"]}}


def _torch_mha(torch, x, W_qkv, b_qkv, W_o, b_o, h):
    """Multi-head causal self-attention from torch's own pieces (the oracle)."""
    import torch.nn.functional as F
    N, T, D = x.shape
    qkv = x @ W_qkv + b_qkv
    q, k, v = (t.reshape(N, T, h, D // h).permute(0, 2, 1, 3) for t in qkv.split(D, dim=-1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return y.permute(0, 2, 1, 3).reshape(N, T, D) @ W_o + b_o


def mha_torch(sub, rng, N=2, T=5, D=8, h=2, oracle=False):
    """The student's multi-head attention; ``oracle`` (the reference's run): the same from
    torch's pieces and its autograd, under "torch"."""
    x = rng.standard_normal((N, T, D))
    weights = _mha_weights(rng, D)
    dout = rng.standard_normal((N, T, D))
    out, cache = sub.attention.multihead_attention_forward(x, *weights, h)
    grads = sub.attention.multihead_attention_backward(dout, cache)
    names = ("dx", "dW_qkv", "db_qkv", "dW_o", "db_o")
    ours = {"ours": {"out": out, **dict(zip(names, grads))}}
    if not oracle:
        return ours
    import torch
    t = [torch.tensor(a, requires_grad=True) for a in (x, *weights)]
    y = _torch_mha(torch, *t, h)
    (y * torch.tensor(dout)).sum().backward()
    return {**ours, "torch": {"out": y.detach().numpy(),
                              **{n: a.grad.numpy() for n, a in zip(names, t)}}}
