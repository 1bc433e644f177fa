"""Scenarios of a5_attention: layers.py."""
from __future__ import annotations

import math
import numpy as np
from lmcore.gradcheck import numerical_gradient_array
from autograder.suites.a5_attention.scenarios.attention import _mha_weights, _torch_mha
from autograder.suites.a5_attention.scenarios.common import _unchanged, _variants


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


def gelu(sub, rng, shape=(3, 7), scale=2.0, gradcheck=False, oracle=False):
    """GELU forward and backward; ``oracle`` (the reference's run of an oracle test): torch's
    F.gelu and its autograd on the same inputs, under "torch"."""
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
    if oracle:
        import torch
        import torch.nn.functional as F
        tx = torch.tensor(x, requires_grad=True)
        y = F.gelu(tx, approximate="tanh")
        (y * torch.tensor(dout)).sum().backward()
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


def block_torch(sub, rng, N=2, T=5, D=8, h=2, oracle=False):
    """The student's block; ``oracle`` (the reference's run): the same block from torch's
    functional pieces and its autograd, under "torch"."""
    x = rng.standard_normal((N, T, D))
    p = _block_params(rng, D, 4 * D)
    dout = rng.standard_normal((N, T, D))
    out, cache = sub.layers.decoder_block_forward(x, p, h)
    dx, grads = sub.layers.decoder_block_backward(dout, cache)
    ours = {"ours": {"out": out, "dx": dx, "grads": _grads(grads)}}
    if not oracle:
        return ours
    import torch
    import torch.nn.functional as F
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)
    a = F.layer_norm(tx, (D,), t["ln1_gamma"], t["ln1_beta"])
    hid = tx + _torch_mha(torch, a, t["W_qkv"], t["b_qkv"], t["W_o"], t["b_o"], h)
    m = F.layer_norm(hid, (D,), t["ln2_gamma"], t["ln2_beta"])
    y = hid + F.gelu(m @ t["W_fc"] + t["b_fc"], approximate="tanh") @ t["W_proj"] + t["b_proj"]
    (y * torch.tensor(dout)).sum().backward()
    return {**ours, "torch": {"out": y.detach().numpy(), "dx": tx.grad.numpy(),
                              "grads": {k: t[k].grad.numpy() for k in BLOCK_PARAMS}}}
