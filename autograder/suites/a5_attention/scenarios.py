"""Scenarios of a5_attention: each takes the submission package ``sub`` and a seeded Generator
``rng``, calls the student's code, and returns plain data (judged in the parent).

``*_gradcheck`` and ``*_torch`` scenarios are self-checks: numerical gradients of the
student's own forward, or the student's values beside torch's (autograd,
``F.scaled_dot_product_attention``) on the same inputs and weights.

``variants`` are classic wrong answers computed with the package's own functions on
transformed inputs (the mask applied after the softmax is the softmax with no mask, times the
mask; a missing 1 / sqrt(d_k) is attention on queries scaled by sqrt(d_k); ...). In the
reference's run they are the wrong answers exactly; the hints compare the student's output
with the reference's ``variants``, so a hint fires only on the bug it names. They are
computed after the student's own outputs, and a variant that fails is left out.
"""
from __future__ import annotations

import math

import numpy as np

from lmcore.gradcheck import numerical_gradient_array
from lmcore.vocab import Vocab

CORPORA = {
    "farm": [
        "the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .",
        "the dog saw the cat on the mat .", "a bird sat on the dog .",
        "the bird saw a cat .", "a dog and a cat sat .", "the mat is on the log .",
    ],
}


def _unchanged(copies, arrays):
    return all(a is None and b is None or np.array_equal(a, b, equal_nan=True)
               for a, b in zip(copies, arrays))


def _variants(**makers):
    """Each maker is called; one that raises is left out (a student's function may not take
    the transformed input, and its variants are never used anyway)."""
    out = {}
    for name, make in makers.items():
        try:
            out[name] = make()
        except Exception:  # noqa: BLE001
            pass
    return out


def _swap(a):
    return None if a is None else np.swapaxes(a, -1, -2)


def _make_mask(rng, kind, lead, Tq, Tk):
    """A mask of shape lead + (Tq, Tk): causal (Tq == Tk), random with every row allowed at
    least once, random with row 1 fully masked, or None."""
    if kind == "none":
        return None
    if kind == "causal":
        return np.tril(np.ones((Tq, Tk), dtype=bool))
    m = rng.random((*lead, Tq, Tk)) < 0.6
    m[..., np.arange(Tq), rng.integers(0, Tk, size=Tq)] = True
    if kind == "empty_row":
        m[..., min(1, Tq - 1), :] = False
    return m


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


def attention_torch(sub, rng, N=2, h=3, T=5, d_k=4, d_v=4):
    """The student's causal attention beside torch's F.scaled_dot_product_attention
    (is_causal=True) and its autograd, float64."""
    import torch
    import torch.nn.functional as F
    q, k, v = _qkv(rng, (N, h), T, T, d_k, d_v)
    dout = rng.standard_normal((N, h, T, d_v))
    out, cache = sub.attention.attention_forward(q, k, v, np.tril(np.ones((T, T), dtype=bool)))
    dq, dk, dv = sub.attention.attention_backward(dout, cache)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    y = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    (y * torch.tensor(dout)).sum().backward()
    return {"ours": {"out": out, "dq": dq, "dk": dk, "dv": dv},
            "torch": {"out": y.detach().numpy(), "dq": tq.grad.numpy(), "dk": tk.grad.numpy(),
                      "dv": tv.grad.numpy()}}


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


def mha_torch(sub, rng, N=2, T=5, D=8, h=2):
    import torch
    x = rng.standard_normal((N, T, D))
    weights = _mha_weights(rng, D)
    dout = rng.standard_normal((N, T, D))
    out, cache = sub.attention.multihead_attention_forward(x, *weights, h)
    grads = sub.attention.multihead_attention_backward(dout, cache)
    names = ("dx", "dW_qkv", "db_qkv", "dW_o", "db_o")
    t = [torch.tensor(a, requires_grad=True) for a in (x, *weights)]
    y = _torch_mha(torch, *t, h)
    (y * torch.tensor(dout)).sum().backward()
    return {"ours": {"out": out, **dict(zip(names, grads))},
            "torch": {"out": y.detach().numpy(), **{n: a.grad.numpy() for n, a in zip(names, t)}}}


# -- layers.py ----------------------------------------------------------------------------------
def layernorm(sub, rng, shape=(2, 3, 5), eps=1e-5, offset=0.0):
    L = sub.layers
    x = rng.standard_normal(shape) * 2.0 + offset
    D = shape[-1]
    gamma = 1.0 + 0.5 * rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal(shape)
    args = [x, gamma, beta, dout]
    copies = [a.copy() for a in args]
    out, cache = L.layernorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = L.layernorm_backward(dout, cache)
    unchanged = _unchanged(copies, args)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta, "inputs_unchanged": unchanged,
            "variants": _variants(no_mean_term=lambda: np.asarray(dx) + inv_std * (
                dout * gamma).mean(axis=-1, keepdims=True))}


def layernorm_gradcheck(sub, rng, shape=(2, 3, 4), eps=1e-5):
    L = sub.layers
    x = rng.standard_normal(shape)
    D = shape[-1]
    gamma = 1.0 + 0.5 * rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal(shape)
    _, cache = L.layernorm_forward(x, gamma, beta, eps)
    analytic = dict(zip(("x", "gamma", "beta"), L.layernorm_backward(dout, cache)))
    f = lambda _: L.layernorm_forward(x, gamma, beta, eps)[0]
    return {"analytic": analytic,
            "numeric": {n: numerical_gradient_array(f, a, dout)
                        for n, a in (("x", x), ("gamma", gamma), ("beta", beta))}}


def gelu(sub, rng, shape=(3, 7), scale=2.0, gradcheck=False, torch_oracle=False):
    L = sub.layers
    x = rng.standard_normal(shape) * scale
    dout = rng.standard_normal(shape)
    copies = [x.copy(), dout.copy()]
    out, cache = L.gelu_forward(x)
    dx = L.gelu_backward(dout, cache)
    result = {"out": out, "dx": dx, "inputs_unchanged": _unchanged(copies, [x, dout]),
              "variants": _variants(no_product_rule=lambda: dout * np.asarray(out) / x)}
    if gradcheck:
        result["analytic"] = {"x": dx}
        result["numeric"] = {"x": numerical_gradient_array(lambda _: L.gelu_forward(x)[0], x, dout)}
    if torch_oracle:
        import torch
        import torch.nn.functional as F
        tx = torch.tensor(x, requires_grad=True)
        y = F.gelu(tx, approximate="tanh")
        (y * torch.tensor(dout)).sum().backward()
        result["ours"] = {"out": out, "dx": dx}
        result["torch"] = {"out": y.detach().numpy(), "dx": tx.grad.numpy()}
    return result


def positional(sub, rng, N=3, T=4, C=6, D=5):
    L = sub.layers
    x = rng.standard_normal((N, T, D))
    W_pos = rng.standard_normal((C, D))
    dout = rng.standard_normal((N, T, D))
    args = [x, W_pos, dout]
    copies = [a.copy() for a in args]
    out, cache = L.positional_embedding_forward(x, W_pos)
    dx, dW_pos = L.positional_embedding_backward(dout, cache)
    return {"out": out, "dx": dx, "dW_pos": dW_pos, "inputs_unchanged": _unchanged(copies, args),
            "variants": _variants(mean=lambda: np.asarray(dW_pos) / N)}


# -- the decoder block ------------------------------------------------------------------------
BLOCK_PARAMS = ("ln1_gamma", "ln1_beta", "W_qkv", "b_qkv", "W_o", "b_o",
                "ln2_gamma", "ln2_beta", "W_fc", "b_fc", "W_proj", "b_proj")


def _block_params(rng, D, F):
    p = {"ln1_gamma": 1 + 0.2 * rng.standard_normal(D), "ln1_beta": 0.2 * rng.standard_normal(D)}
    p["W_qkv"], p["b_qkv"], p["W_o"], p["b_o"] = _mha_weights(rng, D)
    p.update({"ln2_gamma": 1 + 0.2 * rng.standard_normal(D), "ln2_beta": 0.2 * rng.standard_normal(D),
              "W_fc": rng.standard_normal((D, F)) / math.sqrt(D), "b_fc": 0.3 * rng.standard_normal(F),
              "W_proj": rng.standard_normal((F, D)) / math.sqrt(F), "b_proj": 0.3 * rng.standard_normal(D)})
    return p


def _grads(g):
    return {k: g.get(k) for k in BLOCK_PARAMS} if isinstance(g, dict) else g


def block(sub, rng, N=2, T=4, D=8, h=2):
    L = sub.layers
    x = rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    dout = rng.standard_normal((N, T, D))
    copies = [x.copy(), dout.copy()] + [v.copy() for v in p.values()]
    out, cache = L.decoder_block_forward(x, p, h)
    dx, grads = L.decoder_block_backward(dout, cache)
    unchanged = _unchanged(copies, [x, dout, *p.values()])

    def residual_dropped():
        # backward is linear in dout: dropping the MLP residual's identity path removes the
        # gradient that the attention branch (and x) would get from dout directly, which is
        # what the block with its MLP branch switched off (W_proj = b_proj = 0) computes
        off = dict(p, W_proj=np.zeros_like(p["W_proj"]), b_proj=np.zeros_like(p["b_proj"]))
        dx_off, g_off = L.decoder_block_backward(dout, L.decoder_block_forward(x, off, h)[1])
        g = {k: grads[k] - g_off[k] if k in ("ln1_gamma", "ln1_beta", "W_qkv", "b_qkv", "W_o",
                                             "b_o") else grads[k] for k in BLOCK_PARAMS}
        return {"dx": dx - dx_off, "grads": g}
    return {"out": out, "dx": dx, "grads": _grads(grads), "inputs_unchanged": unchanged,
            "variants": _variants(residual_dropped=residual_dropped)}


def block_gradcheck(sub, rng, N=1, T=3, D=4, h=2):
    L = sub.layers
    x = rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    dout = rng.standard_normal((N, T, D))
    _, cache = L.decoder_block_forward(x, p, h)
    dx, grads = L.decoder_block_backward(dout, cache)
    f = lambda _: L.decoder_block_forward(x, p, h)[0]
    keep = np.r_[0:D, 2 * D:3 * D]     # the keys' bias has no gradient (see mha_gradcheck)
    analytic, numeric = {"x": dx}, {"x": numerical_gradient_array(f, x, dout)}
    for k in BLOCK_PARAMS:
        a, n = (grads.get(k) if isinstance(grads, dict) else None), numerical_gradient_array(f, p[k], dout)
        if k == "b_qkv":
            k, n = "b_q,b_v", n[keep]
            a = np.asarray(a)[keep] if isinstance(a, np.ndarray) and a.shape == (3 * D,) else a
        analytic[k], numeric[k] = a, n
    return {"analytic": analytic, "numeric": numeric}


def block_torch(sub, rng, N=2, T=5, D=8, h=2):
    import torch
    import torch.nn.functional as F
    x = rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    dout = rng.standard_normal((N, T, D))
    out, cache = sub.layers.decoder_block_forward(x, p, h)
    dx, grads = sub.layers.decoder_block_backward(dout, cache)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)
    a = F.layer_norm(tx, (D,), t["ln1_gamma"], t["ln1_beta"])
    hid = tx + _torch_mha(torch, a, t["W_qkv"], t["b_qkv"], t["W_o"], t["b_o"], h)
    m = F.layer_norm(hid, (D,), t["ln2_gamma"], t["ln2_beta"])
    y = hid + F.gelu(m @ t["W_fc"] + t["b_fc"], approximate="tanh") @ t["W_proj"] + t["b_proj"]
    (y * torch.tensor(dout)).sum().backward()
    return {"ours": {"out": out, "dx": dx, "grads": _grads(grads)},
            "torch": {"out": y.detach().numpy(), "dx": tx.grad.numpy(),
                      "grads": {k: t[k].grad.numpy() for k in BLOCK_PARAMS}}}


# -- models.py (torch) ----------------------------------------------------------------------------
def _setup(rng):
    """One thread, the global torch seed from rng (dropout), and a generator for the rest."""
    import torch
    torch.set_num_threads(1)
    seed = int(rng.integers(2**31))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _np(t):
    import torch
    return t.detach().cpu().numpy().copy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _load(module, weights: dict) -> None:
    have = set(module.state_dict())
    missing, unexpected = sorted(set(weights) - have), sorted(have - set(weights))
    if missing or unexpected:
        raise AssertionError("the parameters are not named as the docstring says: "
                             + (f"missing {missing}" if missing else "")
                             + ("; " if missing and unexpected else "")
                             + (f"unexpected {unexpected}" if unexpected else ""))
    module.load_state_dict(weights, strict=True)


def _attn_shapes(D, prefix=""):
    return {f"{prefix}qkv.weight": (3 * D, D), f"{prefix}qkv.bias": (3 * D,),
            f"{prefix}proj.weight": (D, D), f"{prefix}proj.bias": (D,)}


def _block_shapes(D, prefix=""):
    s = {f"{prefix}ln1.weight": (D,), f"{prefix}ln1.bias": (D,)}
    s.update(_attn_shapes(D, prefix + "attn."))
    s.update({f"{prefix}ln2.weight": (D,), f"{prefix}ln2.bias": (D,),
              f"{prefix}mlp.fc.weight": (4 * D, D), f"{prefix}mlp.fc.bias": (4 * D,),
              f"{prefix}mlp.proj.weight": (D, 4 * D), f"{prefix}mlp.proj.bias": (D,)})
    return s


def _model_shapes(V, D, L, C):
    s = {"embedding.weight": (V, D), "position.weight": (C, D)}
    for i in range(L):
        s.update(_block_shapes(D, f"blocks.{i}."))
    s.update({"ln_f.weight": (D,), "ln_f.bias": (D,), "decoder.weight": (V, D),
              "decoder.bias": (V,)})
    return s


def _random_weights(rng, shapes, tie=False):
    import torch
    w = {}
    for name, shape in shapes.items():
        if name.endswith(("ln1.weight", "ln2.weight", "ln_f.weight")):
            w[name] = torch.from_numpy(1.0 + 0.2 * rng.standard_normal(shape))
        else:
            w[name] = torch.from_numpy(rng.standard_normal(shape) * 0.5 / math.sqrt(shape[-1]))
    if tie:
        w["decoder.weight"] = w["embedding.weight"]
    return w


def _grads_of(module):
    return {n: _np(p.grad) for n, p in module.named_parameters() if p.grad is not None}


def attn_module(sub, rng, N=2, T=5, D=8, h=2):
    """The student's CausalSelfAttention (float64) for given weights: outputs, attention
    weights and gradients, and torch's F.scaled_dot_product_attention on the same weights."""
    import torch
    import torch.nn.functional as F
    _setup(rng)
    m = sub.models.CausalSelfAttention(D, h, 0.0).double()
    w = _random_weights(rng, _attn_shapes(D))
    _load(m, w)
    x = torch.from_numpy(rng.standard_normal((N, T, D))).requires_grad_()
    R = torch.from_numpy(rng.standard_normal((N, T, D)))
    y, weights = m(x, return_weights=True)
    (y * R).sum().backward()
    with torch.no_grad():
        q, k, v = (t.reshape(N, T, h, D // h).transpose(1, 2)
                   for t in F.linear(x, w["qkv.weight"], w["qkv.bias"]).split(D, -1))

        def sdpa(**kw):
            o = F.scaled_dot_product_attention(q, k, v, **kw)
            return _np(F.linear(o.transpose(1, 2).reshape(N, T, D), w["proj.weight"], w["proj.bias"]))
        oracle = sdpa(is_causal=True)
        variants = {"no_mask": sdpa(is_causal=False)}
    return {"y": _np(y), "attn_weights": _np(weights), "dx": _np(x.grad), "grads": _grads_of(m),
            "sdpa": oracle, "variants": variants}


def block_module(sub, rng, N=2, T=4, D=8, h=2):
    import torch
    _setup(rng)
    b = sub.models.Block(D, h, 0.0).double()
    _load(b, _random_weights(rng, _block_shapes(D)))
    x = torch.from_numpy(rng.standard_normal((N, T, D))).requires_grad_()
    R = torch.from_numpy(rng.standard_normal((N, T, D)))
    y = b(x)
    (y * R).sum().backward()
    with torch.no_grad():
        def post_norm():
            z = b.ln1(x + b.attn(x))
            return _np(b.ln2(z + b.mlp(z)))
        variants = _variants(post_norm=post_norm)
    return {"y": _np(y), "dx": _np(x.grad), "grads": _grads_of(b), "variants": variants}


def _model(sub, rng, V, D, h, L, C, tie, dropout=0.0):
    model = sub.models.TransformerLM(V, D, h, L, C, dropout, tie).double()
    _load(model, _random_weights(rng, _model_shapes(V, D, L, C), tie))
    return model


def model_forward(sub, rng, V=11, D=8, h=2, L=2, C=8, N=2, T=5, M=0, tie=True):
    """Logits, state and gradients of the student's TransformerLM for given weights, inputs and
    context (state): the objective is a fixed random linear function of the logits."""
    import torch
    _setup(rng)
    model = _model(sub, rng, V, D, h, L, C, tie)
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    state = torch.from_numpy(rng.integers(0, V, size=(N, M))) if M else None
    copies = (x.clone(), None if state is None else state.clone())
    logits, new_state = model(x, state)
    R = torch.from_numpy(rng.standard_normal((N, T, V)))
    (logits * R).sum().backward()
    unchanged = bool(torch.equal(x, copies[0]) and (state is None or torch.equal(state, copies[1])))
    with torch.no_grad():
        def pos_after_first_block():
            ctx = x if state is None else torch.cat([state, x], 1)
            ctx = ctx[:, -C:]
            z = model.blocks[0](model.embedding(ctx))
            z = z + model.position(torch.arange(ctx.shape[1]))
            for blk in list(model.blocks)[1:]:
                z = blk(z)
            return _np(model.decoder(model.ln_f(z))[:, -T:])
        variants = _variants(pos_after_first_block=pos_after_first_block)
    return {"logits": _np(logits), "state": _np(new_state).astype(np.int64),
            "grads": _grads_of(model), "tied": bool(model.decoder.weight is model.embedding.weight),
            "n_params": int(sum(p.numel() for p in model.parameters())),
            "inputs_unchanged": unchanged, "variants": variants}


def model_incremental(sub, rng, V=9, D=8, h=2, L=1, C=6, N=2, length=10, chunk=3):
    """A sequence read in chunks, the state carried, against each chunk read as one window:
    the last C ids up to the chunk's end, from no state (the definition). With chunk 1 every
    position gets exactly its last C ids."""
    import torch
    _setup(rng)
    model = _model(sub, rng, V, D, h, L, C, True)
    model.eval()
    ids = torch.from_numpy(rng.integers(0, V, size=(N, length)))
    with torch.no_grad():
        state, pieces, windows = None, [], []
        for s in range(0, length, chunk):
            e = min(s + chunk, length)
            logits, state = model(ids[:, s:e], state)
            pieces.append(logits)
            windows.append(model(ids[:, max(0, e - C):e], None)[0][:, -(e - s):])
    return {"chunked": _np(torch.cat(pieces, 1)), "window": _np(torch.cat(windows, 1)),
            "last_state": _np(state).astype(np.int64)}


def model_dropout(sub, rng, V=9, D=8, h=2, L=2, C=6, N=2, T=5, p=0.5):
    import torch
    _setup(rng)
    model = _model(sub, rng, V, D, h, L, C, True, dropout=p)
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    with torch.no_grad():
        model.eval()
        eval_logits, _ = model(x)
        model.train()
        train_logits, _ = model(x)
    return {"eval_logits": _np(eval_logits),
            "train_differs": bool(not torch.allclose(train_logits, eval_logits))}


def model_tying(sub, rng, V=13, D=8, h=2, L=1, C=4):
    _setup(rng)
    tied = sub.models.TransformerLM(V, D, h, L, C, 0.0, True)
    untied = sub.models.TransformerLM(V, D, h, L, C, 0.0, False)
    return {"tied_is_shared": bool(tied.decoder.weight is tied.embedding.weight),
            "params_saved": int(sum(p.numel() for p in untied.parameters())
                                - sum(p.numel() for p in tied.parameters()))}


def tiny_run(sub, rng, corpus="farm", D=16, h=2, L=1, C=8, N=4, steps=120, lr=0.02, bound=1.2):
    """Self-check: the student's TransformerLM learns a tiny corpus. Plain Adam written here
    (no torch.optim, which imports torch._dynamo) on random windows of the stream."""
    import torch
    import torch.nn.functional as F
    from lmcore.batching import stream
    g = _setup(rng)
    sentences = [line.split() for line in CORPORA[corpus]]
    vocab = Vocab.build(sentences, min_count=1)
    ids = torch.from_numpy(stream(sentences, vocab))
    model = sub.models.TransformerLM(len(vocab), D, h, L, C, 0.0, True)
    params = [p for p in model.parameters()]
    with torch.no_grad():
        for p in params:
            p.normal_(0.0, 0.1, generator=g) if p.dim() > 1 else p.zero_()
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 1:
                p.fill_(1.0)
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    losses = []
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(ids) - C - 1, (N,), generator=g)
        x = torch.stack([ids[s:s + C] for s in starts])
        y = torch.stack([ids[s + 1:s + C + 1] for s in starts])
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p, a, b in zip(params, m1, m2):
                if p.grad is None:
                    continue
                a.mul_(0.9).add_(p.grad, alpha=0.1)
                b.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                p.sub_(lr * (a / (1 - 0.9 ** step)) / ((b / (1 - 0.999 ** step)).sqrt() + 1e-8))
        losses.append(float(loss))
    return {"first": float(np.mean(losses[:10])), "last": float(np.mean(losses[-10:])),
            "uniform": math.log(len(vocab)), "bound": bound, "steps": steps}


# -- train.py ------------------------------------------------------------------------------------
def schedule(sub, rng, total=20, warmup=5, base_lr=1e-3, min_lr=1e-4, extra=3):
    f = sub.train.warmup_cosine
    steps = range(total + extra)
    lrs = [float(f(k, total, warmup, base_lr, min_lr)) for k in steps]
    return {"lr": lrs, "variants": _variants(cosine_ignores_warmup=lambda: [
        float(f(k, total, warmup, base_lr, min_lr) if k < warmup else f(k, total, 0, base_lr, min_lr))
        for k in steps])}


def groups(sub, rng, weight_decay=0.1, tie=True):
    """param_groups on a known-good little model (an embedding tied to a decoder, LayerNorms,
    linears): which parameter lands in which group, and with what decay."""
    import torch
    from torch import nn
    _setup(rng)

    class Little(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(7, 4)
            self.ln = nn.LayerNorm(4)
            self.fc = nn.Linear(4, 6)
            self.proj = nn.Linear(6, 4, bias=False)
            self.ln_f = nn.LayerNorm(4)
            self.decoder = nn.Linear(4, 7)
            if tie:
                self.decoder.weight = self.embedding.weight

    model = Little()
    names = {id(p): n for n, p in model.named_parameters()}
    out = sub.train.param_groups(model, weight_decay)
    result = {"groups": [{"names": [names.get(id(p), "<not a parameter of the model>")
                                    for p in g["params"]],
                          "weight_decay": float(g.get("weight_decay", math.nan))} for g in out]}
    every = [n for n, _ in model.named_parameters()]
    result["variants"] = {"decay_all": [{"names": every, "weight_decay": weight_decay},
                                        {"names": [], "weight_decay": 0.0}]}
    return result
