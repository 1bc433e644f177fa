"""Scenarios of a3_rnn: models.py."""
from __future__ import annotations

import math
import numpy as np
from lmcore.batching import bptt_batches, stream
from lmcore.gradcheck import numerical_gradient
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F


# -- the language model ----------------------------------------------------------------------------
def _model(sub, rng, corpus, cell, D=4, H=5, zero=False, Wh_scale=None):
    sentences = F.CORPORA[corpus]
    vocab = Vocab.build(sentences, min_count=1)
    model = sub.models.RNNLM(vocab, np.random.default_rng(int(rng.integers(2**31))), D=D, H=H,
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
    # two wrong numbers the same table gives, for the hints: the model fed its own argmax
    # predictions after the first input, and the padding targets not masked out
    own = []
    for row in tokens:
        fed = int(row[0])
        for t, b_ in enumerate(row[1:]):
            if b_ >= 0:
                own.append(-logP[fed, b_])
            fed = int(np.argmax(logP[fed]))
    # (padding inputs and targets are id 0 once masked, as in loss_chunk)
    unmasked = [-logP[max(int(a_), 0), max(int(b_), 0)]
                for row in tokens for a_, b_ in zip(row[:-1], row[1:])]
    return {"loss": loss, "closed_form": float(np.mean(nll)),
            "own_predictions": float(np.mean(own)), "unmasked": float(np.mean(unmasked)),
            "over_all_positions": float(np.sum(nll) / tokens[:, 1:].size)}


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


def model_torch(sub, rng, corpus="tiny", cell="rnn", H=5, oracle=False):
    """The student's model loss and gradients on the scenario's own weights; ``oracle`` (the
    reference's run of the test): the same network in torch autograd, under "torch"."""
    model, vocab, sentences = _model(sub, rng, corpus, cell, H=H)
    weights = {k: np.array(v, copy=True) for k, v in model.params.items()}
    tokens = _padded(vocab, sentences)
    loss, grads, _ = model.loss(tokens)
    ours = {"ours": {"loss": loss, "grads": {k: grads.get(k) for k in weights}}}
    if not oracle:
        return ours
    import torch
    p = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    x = torch.tensor(np.where(tokens[:, :-1] < 0, 0, tokens[:, :-1]))
    y = torch.tensor(np.where(tokens[:, 1:] == vocab.bos_id, -100, tokens[:, 1:]))
    s = torch_scores(p, p["W_embed"][x], cell, H)
    s = s.masked_fill(torch.arange(len(vocab)) == vocab.bos_id, float("-inf"))
    tl = torch.nn.functional.cross_entropy(s.reshape(-1, len(vocab)), y.reshape(-1))
    tl.backward()
    return {**ours, "torch": {"loss": float(tl.detach()),
                              "grads": {k: v.grad.numpy() for k, v in p.items()}}}


def tbptt(sub, rng, corpus="tiny", cell="rnn", N=2, T=3):
    model, vocab, sentences = _model(sub, rng, corpus, cell)
    ids = stream(sentences, vocab)
    copy = ids.copy()
    losses, grads, leaks = [], [], []
    chunks = list(bptt_batches(ids, N, T))
    for k, (loss, g) in enumerate(sub.models.truncated_bptt(model, ids, N, T)):
        losses.append(loss)
        grads.append({name: g.get(name) for name in model.params})
        # the embedding rows of ids that are not inputs of this chunk get no gradient
        outside = np.setdiff1d(np.arange(len(vocab)), chunks[k][0]) if k < len(chunks) else []
        leaks.append(float(np.abs(np.asarray(g["W_embed"])[outside]).max()) if len(outside) else 0.0)
    # each chunk's loss from the zero state, by your loss_chunk: what a loop that never
    # carries the state gives
    fresh = [float(model.loss_chunk(x, y, None)[0]) for x, y in chunks]
    return {"losses": losses, "grads": grads, "chunks": len(chunks), "losses_fresh": fresh,
            "outside_chunk_grad": leaks, "inputs_unchanged": bool(np.array_equal(copy, ids))}


def generate_draws(sub, rng, corpus="tiny", cell="rnn", n=4000, prompt=()):
    """lmcore.lm.generate over the submission's model (free-running through its
    next_distribution): the counts of its first two draws, judged against the reference's
    distributions, reproducibility from one seed, and next_distribution(prompt) itself.
    4000 sentences: enough to see an LSTM whose gates are read in the wrong order."""
    model, vocab, _ = _model(sub, rng, corpus, cell)
    return F.generate_draws(model, np.random.default_rng(int(rng.integers(2**31))), n,
                            list(prompt))


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
    norms = sub.models.grad_norm_vs_distance(model, tokens)
    return {"norms": norms, "inputs_unchanged": bool(np.array_equal(copy, tokens))}
