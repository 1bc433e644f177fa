"""Scenarios of assignment 2 (the window LM). Each takes the package under test (``sub``, the
student's or the reference) and a seeded numpy Generator, and returns plain data.

Gradient checks run on the submission's own forward pass and use a fourth-order centred
difference (step 1e-3), accurate to about 1e-12, so that a correct backward passes a
relative-error bound of 1e-7 with a wide margin even on small gradient entries.
"""
from __future__ import annotations

import numpy as np

from autograder.authoring import fixtures as F
from lmcore.lm import perplexity
from lmcore.vocab import Vocab

# A tiny corpus with enough structure for a window LM to learn in a few hundred steps.
TINY_CORPUS = [
    "the cat sat on the mat .",
    "the dog sat on the log .",
    "a cat saw a dog .",
    "the dog saw the cat on the mat .",
    "a bird sat on a log .",
    "the bird saw a cat .",
    "the cat ate the fish .",
    "a dog ate a bone .",
    "the bird ate a seed .",
    "a cat sat on a mat and the dog sat on a log .",
]
TINY_VALID = [
    "the cat sat on a log .",
    "a dog saw the bird .",
    "the fish ate a seed .",
    "a zebra sat on the mat .",   # zebra is out of vocabulary: it counts as <unk>
]
CORPORA = {"tiny": TINY_CORPUS, "tiny_valid": TINY_VALID}


def _sentences(name):
    return [s.split() for s in CORPORA[name]]


def _vocab():
    return Vocab.build(_sentences("tiny"), min_count=1)


def _numeric(f, x, h=1e-3):
    """d f() / d x by the fourth-order centred difference; x is perturbed in place and
    restored. Written so that an f that ignores an entry gives exactly 0 there."""
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        vals = []
        try:
            for step in (2.0, 1.0, -1.0, -2.0):
                x[ix] = old + step * h
                vals.append(float(f()))
        finally:
            x[ix] = old
        grad[ix] = (8.0 * (vals[1] - vals[2]) - (vals[0] - vals[3])) / (12.0 * h)
    return grad


def _window_ids(rng, N, C, V, bos=1):
    """(N, C) ids with <s> padding at sentence starts and a word repeated inside the batch,
    so that the embedding gradient must accumulate."""
    x = rng.integers(3, V, size=(N, C))
    x[0, :] = bos                       # the first window of a sentence: all <s>
    if N > 1 and C > 1:
        x[1, :-1] = bos
        x[-1, -1] = x[-1, 0] = x[1, -1]  # the same word three times in the batch
    return x


def _model(sub, rng, C=3, D=4, H=5, scale=0.5):
    """The submission's WindowLM on the tiny vocabulary, with weights drawn from ``rng``."""
    vocab = _vocab()
    model = sub.models.WindowLM(vocab, np.random.default_rng(0), n_context=C, d_embed=D,
                               d_hidden=H)
    shapes = {"W_emb": (len(vocab), D), "W1": (C * D, H), "b1": (H,), "W2": (H, len(vocab)),
              "b2": (len(vocab),)}
    model.params = {k: rng.standard_normal(s) * scale for k, s in shapes.items()}
    return model


# -- layers --------------------------------------------------------------------------------------
# A layer's gradient check is its scenario run with gradcheck=True, so that the check sees the
# inputs and the calls the layer's graded test sees.
def embedding(sub, rng, N=4, C=3, V=9, D=5, gradcheck=False):
    L = sub.layers
    x = _window_ids(rng, N, C, V)
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, C, D))
    out, cache = L.embedding_forward(x, W)
    dW = L.embedding_backward(dout, cache)
    if gradcheck:
        num = _numeric(lambda: np.sum(L.embedding_forward(x, W)[0] * dout), W)
        return {"analytic": {"W": dW}, "numeric": {"W": num}, "x": x, "dout": dout}
    return {"out": out, "dW": dW, "x": x, "dout": dout}


def embedding_gradcheck(sub, rng, N=4, C=3, V=9, D=5):
    return embedding(sub, rng, N, C, V, D, gradcheck=True)


def concat(sub, rng, N=3, C=4, D=2, gradcheck=False):
    L = sub.layers
    x = rng.standard_normal((N, C, D))
    dout = rng.standard_normal((N, C * D))
    out, cache = L.concat_forward(x)
    dx = L.concat_backward(dout, cache)
    if gradcheck:
        num = _numeric(lambda: np.sum(L.concat_forward(x)[0] * dout), x)
        return {"analytic": {"x": dx}, "numeric": {"x": num}}
    return {"out": out, "dx": dx}


def concat_gradcheck(sub, rng, N=3, C=4, D=2):
    return concat(sub, rng, N, C, D, gradcheck=True)


def affine(sub, rng, N=4, F=6, M=3, gradcheck=False):
    L = sub.layers
    x, w, b = rng.standard_normal((N, F)), rng.standard_normal((F, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    out, cache = L.affine_forward(x, w, b)
    dx, dw, db = L.affine_backward(dout, cache)
    if gradcheck:
        f = lambda: np.sum(L.affine_forward(x, w, b)[0] * dout)
        return {"analytic": {"x": dx, "w": dw, "b": db},
                "numeric": {"x": _numeric(f, x), "w": _numeric(f, w), "b": _numeric(f, b)}}
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def affine_gradcheck(sub, rng, N=4, F=6, M=3):
    return affine(sub, rng, N, F, M, gradcheck=True)


def tanh(sub, rng, N=4, H=5, gradcheck=False):
    L = sub.layers
    x = rng.standard_normal((N, H))
    dout = rng.standard_normal((N, H))
    out, cache = L.tanh_forward(x)
    dx = L.tanh_backward(dout, cache)
    if gradcheck:
        num = _numeric(lambda: np.sum(L.tanh_forward(x)[0] * dout), x)
        return {"analytic": {"x": dx}, "numeric": {"x": num}, "x": x, "dout": dout}
    return {"out": out, "dx": dx, "x": x, "dout": dout}


def tanh_gradcheck(sub, rng, N=4, H=5):
    return tanh(sub, rng, N, H, gradcheck=True)


def _mask(rng, V, masked):
    mask = np.ones(V, dtype=bool)
    if masked:
        mask[1] = False                # <s>'s id in every vocabulary of the course
    return mask


def softmax_loss(sub, rng, N=5, V=7, masked=True, scale=1.0):
    L = sub.layers
    mask = _mask(rng, V, masked)
    scores = rng.standard_normal((N, V)) * scale
    y = rng.choice(np.flatnonzero(mask), size=N)
    logp = L.log_softmax(scores, mask)
    loss, cache = L.softmax_loss_forward(scores, y, mask)
    dscores = L.softmax_loss_backward(1.0, cache)
    return {"logp": logp, "loss": loss, "dscores": dscores}


def softmax_gradcheck(sub, rng, N=5, V=7, masked=True):
    L = sub.layers
    mask = _mask(rng, V, masked)
    scores = rng.standard_normal((N, V))
    y = rng.choice(np.flatnonzero(mask), size=N)
    dloss = float(rng.uniform(0.5, 2.0))
    _, cache = L.softmax_loss_forward(scores, y, mask)
    dscores = L.softmax_loss_backward(dloss, cache)
    num = _numeric(lambda: dloss * L.softmax_loss_forward(scores, y, mask)[0], scores)
    return {"analytic": {"scores": dscores}, "numeric": {"scores": num}}


def softmax_overflow(sub, rng, N=4, V=6, big=1000.0):
    """Logits of size ``big``: exp(1000) overflows float64 unless each row is shifted."""
    L = sub.layers
    mask = _mask(rng, V, True)
    scores = rng.standard_normal((N, V)) * big
    scores[0, 0] = big                 # a row whose largest logit is exactly +big
    scores[1] = big                    # a row of equal huge logits: uniform over the mask
    y = rng.choice(np.flatnonzero(mask), size=N)
    with np.errstate(all="ignore"):    # the judge reports overflow; warnings are noise
        logp = L.log_softmax(scores, mask)
        loss, cache = L.softmax_loss_forward(scores, y, mask)
        dscores = L.softmax_loss_backward(1.0, cache)
        small = L.log_softmax(scores / big, mask)   # the same rows at logits of about 1
    return {"logp": logp, "loss": loss, "dscores": dscores, "logp_small": small}


# -- the model -----------------------------------------------------------------------------------
def model_loss(sub, rng, N=6, C=3, D=4, H=5, scale=0.5):
    model = _model(sub, rng, C, D, H, scale)
    x = _window_ids(rng, N, C, len(model.vocab))
    y = rng.choice(model.vocab.prediction_ids, size=N)
    loss, grads = model.loss(x, y)
    return {"loss": loss, "grads": grads}


def model_gradcheck(sub, rng, N=4, C=3, D=3, H=4, scale=0.5):
    model = _model(sub, rng, C, D, H, scale)
    x = _window_ids(rng, N, C, len(model.vocab))
    y = rng.choice(model.vocab.prediction_ids, size=N)
    _, grads = model.loss(x, y)
    numeric = {k: _numeric(lambda: model.loss(x, y)[0], w) for k, w in model.params.items()}
    return {"analytic": dict(grads), "numeric": numeric}


def model_window_log_probs(sub, rng, N=6, C=3, D=4, H=5, scale=1.0):
    model = _model(sub, rng, C, D, H, scale)
    x = _window_ids(rng, N, C, len(model.vocab))
    logp = model.window_log_probs(x)
    with np.errstate(all="ignore"):
        p = np.exp(np.asarray(logp, dtype=np.float64))
    return {"logp": logp, "p": p, "p_bos": p[:, model.vocab.bos_id]}


def model_overflow(sub, rng, N=5, C=2, D=3, H=4, big=300.0):
    """Output weights so large that the logits reach about 1e3."""
    model = _model(sub, rng, C, D, H, 1.0)
    W2 = model.params["W2"]
    model.params["W2"] = W2 * big
    x = _window_ids(rng, N, C, len(model.vocab))
    y = rng.choice(model.vocab.prediction_ids, size=N)
    with np.errstate(all="ignore"):
        logp = model.window_log_probs(x)
        loss, grads = model.loss(x, y)
        model.params["W2"] = W2                    # the same windows at ordinary logits
        small = model.window_log_probs(x)
    return {"logp": logp, "loss": loss, "dW2": grads["W2"], "logp_small": small}


def model_perplexity(sub, rng, corpus="tiny_valid", C=3, D=4, H=5, scale=1.0):
    """logprobs(sentences), and lmcore.lm.perplexity over them (the course's one perplexity)."""
    model = _model(sub, rng, C, D, H, scale)
    sentences = _sentences(corpus) + [[]]          # the empty sentence predicts only </s>
    lp = model.logprobs(sentences)
    return {"logprobs": lp, "perplexity": perplexity(model, sentences)}


CONTEXTS = [[], ["the"], ["the", "cat"], ["a", "cat", "sat", "on", "the"], ["a", "zebra"]]


def next_distribution(sub, rng, C=3, D=4, H=5, scale=1.0):
    model = _model(sub, rng, C, D, H, scale)
    p = [model.next_distribution(list(c)) for c in CONTEXTS]
    return {"p": p, "contexts": [" ".join(c) for c in CONTEXTS]}


def generate_draws(sub, rng, n=1500, prompt=(), C=2, D=4, H=5, scale=1.5, temperature=1.0,
                   top_k=None):
    """lmcore.lm.generate over the submission's model: the counts of its first two draws
    (judged against the reference's distributions), reproducibility from one seed."""
    model = _model(sub, rng, C, D, H, scale)
    draw = np.random.default_rng(int(rng.integers(2**31)))
    out = F.generate_draws(model, draw, n, list(prompt), temperature, top_k)
    out["p_bos"] = out["p_first"][None, model.vocab.bos_id]
    return out


def _same(a, b):
    return type(a) is type(b) and (not isinstance(a, np.ndarray) or (
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)))


def inputs_unchanged(sub, rng, N=4, C=3, V=9, D=3, H=4):
    """Call every function on arrays and compare the arrays with copies taken before."""
    L = sub.layers
    x = _window_ids(rng, N, C, V)
    W = rng.standard_normal((V, D))
    mask = np.ones(V, dtype=bool)
    mask[1] = False
    y = rng.choice(np.flatnonzero(mask), size=N)
    w1, b1 = rng.standard_normal((C * D, H)), rng.standard_normal(H)
    scores = rng.standard_normal((N, V))
    arrays = {"x": x, "W": W, "mask": mask, "y": y, "w1": w1, "b1": b1, "scores": scores}
    douts = {"emb": rng.standard_normal((N, C, D)), "cat": rng.standard_normal((N, C * D)),
             "aff": rng.standard_normal((N, H)), "tanh": rng.standard_normal((N, H))}
    before = {k: v.copy() for k, v in {**arrays, **douts}.items()}
    result = {}

    def run(name, fn):
        fn()
        now = {**arrays, **douts}
        changed = [k for k in before if not _same(before[k], now[k])]
        result[name] = ", ".join(changed)

    def emb():
        _, cache = L.embedding_forward(x, W)
        L.embedding_backward(douts["emb"], cache)

    def cat():
        e = W[x]
        _, cache = L.concat_forward(e)
        L.concat_backward(douts["cat"], cache)

    def aff():
        _, cache = L.affine_forward(douts["cat"], w1, b1)
        L.affine_backward(douts["aff"], cache)

    def th():
        _, cache = L.tanh_forward(douts["aff"])
        L.tanh_backward(douts["tanh"], cache)

    def sm():
        L.log_softmax(scores, mask)
        _, cache = L.softmax_loss_forward(scores, y, mask)
        L.softmax_loss_backward(1.0, cache)

    for name, fn in [("embedding", emb), ("concat", cat), ("affine", aff), ("tanh", th),
                     ("softmax_loss", sm)]:
        run(name, fn)

    model = _model(sub, rng, 2, 3, 4, 0.5)
    ctx = _window_ids(rng, N, 2, len(model.vocab))
    tgt = rng.choice(model.vocab.prediction_ids, size=N)
    params_before = {k: v.copy() for k, v in model.params.items()}
    ctx_before, tgt_before = ctx.copy(), tgt.copy()
    model.loss(ctx, tgt)
    model.window_log_probs(ctx)
    sentences = _sentences("tiny_valid")
    copy = [list(s) for s in sentences]
    model.logprobs(sentences)
    model.next_distribution(sentences[0])
    changed = [k for k in params_before if not np.array_equal(params_before[k], model.params[k])]
    changed += [n for n, a, b in (("contexts", ctx, ctx_before), ("targets", tgt, tgt_before))
                if not np.array_equal(a, b)]
    if sentences != copy:
        changed.append("sentences")
    result["model"] = ", ".join(changed)
    return result


# -- training ------------------------------------------------------------------------------------
def lr_schedule(sub, rng, max_steps=100, warmup_steps=10, lr=0.01, min_lr_frac=0.1):
    T = sub.train
    config = T.TrainConfig(max_steps=max_steps, warmup_steps=warmup_steps, lr=lr,
                           min_lr_frac=min_lr_frac)
    steps = [0, 1, warmup_steps - 1, warmup_steps, warmup_steps + 1, max_steps // 2,
             max_steps - 1, max_steps, max_steps + 5]
    steps += [int(s) for s in rng.integers(0, max_steps, size=3)]
    steps = sorted({s for s in steps if s >= 0})
    return {"steps": steps, "lr": [float(T.lr_at(s, config)) for s in steps]}


def optimizers(sub, rng, shape=(3, 4), n_steps=3, lr=0.01):
    T = sub.train
    w = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(n_steps)]
    w_copy = w.copy()
    sgd = T.sgd_step(w, grads[0], lr)
    state = T.adam_init(w)
    adam_w, adam_m, adam_v = [], [], []
    cur = w
    for g in grads:
        cur, state = T.adam_step(cur, g, state, lr, 0.9, 0.999, 1e-8)
        adam_w.append(cur)
        adam_m.append(state.m)
        adam_v.append(state.v)
    return {"sgd": sgd, "adam_w": adam_w, "adam_m": adam_m, "adam_v": adam_v,
            "adam_t": int(state.t), "w_unchanged": bool(np.array_equal(w, w_copy))}


def training_run(sub, rng, max_steps=300, batch_size=16, optimizer="adam", lr=0.01,
                 C=2, D=8, H=16):
    T = sub.train
    vocab = _vocab()
    model = sub.models.WindowLM(vocab, np.random.default_rng(int(rng.integers(2**31))),
                               n_context=C, d_embed=D, d_hidden=H)
    config = T.TrainConfig(max_steps=max_steps, batch_size=batch_size, optimizer=optimizer,
                           lr=lr, warmup_steps=10, eval_every=max_steps // 4,
                           eval_windows=10_000)
    train_sentences = _sentences("tiny")
    valid_sentences = _sentences("tiny_valid")
    initial = perplexity(model, train_sentences)
    curve = T.train(model, train_sentences, valid_sentences, config,
                    np.random.default_rng(int(rng.integers(2**31))))
    return {"curve": {k: list(v) for k, v in curve.items()} if isinstance(curve, dict) else curve,
            "initial_train_ppl": initial, "final_train_ppl": perplexity(model, train_sentences),
            "final_valid_ppl": perplexity(model, valid_sentences)}
