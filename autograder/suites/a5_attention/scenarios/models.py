"""Scenarios of a5_attention: models.py."""
from __future__ import annotations

import math
import numpy as np
from lmcore.vocab import Vocab
from autograder.suites.a5_attention.scenarios.common import CORPORA, _variants


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
