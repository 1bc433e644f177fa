"""Scenarios of a4_torch: train.py."""
from __future__ import annotations

import math
import os
import tempfile
import numpy as np
import torch
from torch import nn
from lmcore.batching import IGNORE, n_predicted, stream
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F
from autograder.suites.a4_torch.scenarios.common import _loss_probe, _np, _setup


# -- train.py: the loss, detach, clipping ------------------------------------------------------
def loss_case(sub, rng, N=3, T=5, V=8, ignore_frac=0.3, scale=2.0):
    """lm_loss and its gradient on random float64 logits; some targets are IGNORE."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, T, V)) * scale).requires_grad_()
    choices = np.array([i for i in range(V) if i != Vocab.bos_id])
    y = rng.choice(choices, size=(N, T))
    y[rng.random((N, T)) < ignore_frac] = IGNORE
    y[0, 0] = choices[0]  # at least one predicted token
    targets = torch.from_numpy(y)
    loss = sub.train.lm_loss(logits, targets)
    loss.backward()
    return {"loss": float(loss.detach()), "dlogits": _np(logits.grad),
            "counted": int((y != IGNORE).sum())}


def detach_case(sub, rng, H=4, L=2):
    """detach_state on None, a tensor (RNN) and a pair (LSTM): same values, no graph, and the
    inputs keep theirs."""
    _setup(rng)
    w = torch.from_numpy(rng.standard_normal((L, 1, H))).requires_grad_()
    h = w * 2.0
    c = w * 3.0
    out_none = sub.train.detach_state(None)
    out_h = sub.train.detach_state(h)
    out_hc = sub.train.detach_state((h, c))
    pair = list(out_hc) if isinstance(out_hc, (tuple, list)) else []
    return {
        "none_stays_none": out_none is None,
        "tensor_values": _np(out_h) if isinstance(out_h, torch.Tensor) else None,
        "tensor_detached": bool(isinstance(out_h, torch.Tensor) and out_h.grad_fn is None
                                and not out_h.requires_grad),
        "pair_values": [_np(t) for t in pair],
        "pair_detached": bool(len(pair) == 2 and all(isinstance(t, torch.Tensor)
                                                     and not t.requires_grad for t in pair)),
        "inputs_keep_graph": bool(h.grad_fn is not None and c.grad_fn is not None),
    }


CLIP_SCALE = {"random": 1.0, "below": 1e-3, "tiny": 1e-30, "huge": 1e200, "inf": 1.0,
              "nan": 1.0, "error": 1.0, "none": 1.0}
CLIP_POISON = {"inf": [(1, (2,), F.INF)], "error": [(1, (2,), F.INF)],
               "nan": [(2, (1, 1, 0), F.NAN)]}


def _clip_params(rng, case: str, dtype=torch.float64):
    """Four parameters; the last (and, for ``none``, every one) has no gradient."""
    shapes = [(3, 4), (5,), (2, 3, 2), (4,)]
    scale = 1e30 if dtype == torch.float32 and case == "huge" else CLIP_SCALE[case]
    grads = F.gradients(rng, [] if case == "none" else shapes[:3], scale, CLIP_POISON.get(case, ()))
    params = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g).to(dtype)
    return params


def clip_case(sub, rng, case="random", max_norm=1.0, dtype="float64"):
    """clip_grad_norm on gradients of several tensors (one without a gradient): the norm it
    returns and the gradients it leaves, for random, below-threshold, tiny, huge, inf and NaN
    gradients, and with error_if_nonfinite. Also: was torch's own clip_grad_norm_ called?"""
    _setup(rng)
    dt = torch.float64 if dtype == "float64" else torch.float32
    params = _clip_params(rng, case, dt)
    import torch.nn.utils as U
    import torch.nn.utils.clip_grad as CG
    called = []
    originals = (U.clip_grad_norm_, CG.clip_grad_norm_, U.clip_grad_norm)

    def spy(*args, **kw):
        called.append(True)
        return originals[0](*args, **kw)
    before = [_np(p.grad) for p in params if p.grad is not None]
    U.clip_grad_norm_ = CG.clip_grad_norm_ = U.clip_grad_norm = spy
    try:
        raised = "no error"
        try:
            # a generator, as model.parameters() is: the function may iterate it only once
            norm = sub.train.clip_grad_norm((p for p in params), max_norm,
                                            error_if_nonfinite=(case == "error"))
        except NotImplementedError:
            raise
        except RuntimeError:
            raised, norm = "RuntimeError", None
    finally:
        U.clip_grad_norm_, CG.clip_grad_norm_, U.clip_grad_norm = originals
    grads = [None if p.grad is None else _np(p.grad) for p in params]
    return {"norm": None if norm is None else float(torch.as_tensor(norm)),
            "grads": [g for g in grads if g is not None], "grads_before": before,
            "raised": raised, "used_torch_clip": bool(called)}



# -- train.py: the loop --------------------------------------------------------------------------
class _TinyLM(nn.Module):
    """A known-good LSTM LM with the students' forward(inputs, state) contract (float64)."""

    def __init__(self, V: int, E: int, H: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(H, V)

    def forward(self, inputs, state=None):
        out, state = self.rnn(self.drop(self.embedding(inputs)), state)
        return self.decoder(self.drop(out)), state


def _tiny_model(rng, V, E=5, H=6, dropout=0.0) -> _TinyLM:
    model = _TinyLM(V, E, H, dropout).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.5))
    return model


class _Recorder(nn.Module):
    """Wraps a model; records, for every forward call, whether the incoming state was still
    attached to a graph, and counts gradients that reach a returned state (which happens
    only when a LATER chunk backpropagates into this one)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.attached: list[bool] = []
        self.reached = 0

    def _hook(self, grad):
        self.reached += 1

    def forward(self, inputs, state=None):
        tensors = [] if state is None else ([state] if isinstance(state, torch.Tensor)
                                            else list(state))
        self.attached.append(any(t.requires_grad for t in tensors))
        logits, new = self.inner(inputs, state)
        for t in [new] if isinstance(new, torch.Tensor) else list(new):
            if t.requires_grad:
                t.register_hook(self._hook)
        return logits, new


def _random_stream(rng, V: int, length: int) -> np.ndarray:
    ids = rng.integers(0, V, size=length)
    ids[ids == Vocab.bos_id] = Vocab.eos_id
    ids[0] = Vocab.bos_id
    return ids.astype(np.int64)


def train_steps(sub, rng, V=10, N=3, T=4, length=60, chunks=3, clip=0.5, lr=0.3):
    """train_epoch for a few chunks with SGD on a known-good model (float64): the parameters
    after, the chunk losses, the gradient norms before clipping, the token-weighted mean loss
    and the token count."""
    _setup(rng)
    model = _Recorder(_tiny_model(rng, V))
    ids = _random_stream(rng, V, length)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    try:
        stats = sub.train.train_epoch(model, ids, opt, N, T, clip=clip, max_chunks=chunks)
    except RuntimeError as err:
        if "backward through the graph a second time" in str(err):
            raise RuntimeError("backward of a later chunk ran into an earlier chunk's graph "
                               "(already freed): is the state detached between chunks? "
                               f"[{err}]") from None
        raise
    if not isinstance(stats, dict):
        raise TypeError(f"train_epoch must return a dict, got {type(stats).__name__}")
    return {
        "params": {name: _np(p) for name, p in model.inner.named_parameters()},
        "loss": float(stats.get("loss", math.nan)),
        "tokens": int(stats.get("tokens", -1)),
        "chunk_loss": [float(v) for v in stats.get("chunk_loss", [])],
        "grad_norm": [float(v) for v in stats.get("grad_norm", [])],
        "lm_loss_probe": _loss_probe(sub),
    }


def train_two_epochs(sub, rng, V=10, N=3, T=4, length=50, lr=0.3):
    """train_epoch called twice on one model and one optimizer, as fit does: each epoch
    starts again from the zero state. Returns each epoch's chunk losses and the parameters
    after the second epoch."""
    _setup(rng)
    model = _tiny_model(rng, V)
    ids = _random_stream(rng, V, length)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    epochs = []
    for _ in range(2):
        stats = sub.train.train_epoch(model, ids, opt, N, T, clip=None)
        if not isinstance(stats, dict):
            raise TypeError(f"train_epoch must return a dict, got {type(stats).__name__}")
        epochs.append([float(v) for v in stats.get("chunk_loss", [])])
    return {"chunk_loss": epochs, "lm_loss_probe": _loss_probe(sub),
            "params": {name: _np(p) for name, p in model.named_parameters()}}


def detach_between_chunks(sub, rng, V=10, N=2, T=3, length=40, chunks=4):
    """Truncated BPTT: every chunk after the first must start from a state with no graph,
    and no gradient may reach an earlier chunk."""
    _setup(rng)
    model = _Recorder(_tiny_model(rng, V))
    ids = _random_stream(rng, V, length)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    error = None
    try:
        sub.train.train_epoch(model, ids, opt, N, T, clip=None, max_chunks=chunks)
    except NotImplementedError:
        raise
    except RuntimeError as err:
        error = str(err)[:300]
    return {"chunks_run": len(model.attached),
            "state_attached": model.attached,
            "grad_reached_earlier_chunk": model.reached > 0,
            "backward_error": error}


def evaluate_case(sub, rng, corpus="verse", N=3, T=4, dropout=0.5):
    """evaluate on a stream whose length N does not divide (IGNOREd tail, short last chunk),
    with a dropout model left in training mode: twice, to see that it is deterministic.
    Returns the two losses and the token counts (with the count the course's convention,
    docs/conventions.md, says)."""
    _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    model = _tiny_model(rng, len(vocab), dropout=dropout)
    model.train()
    ids = stream(sentences, vocab)
    first, tokens = sub.train.evaluate(model, ids, N, T)
    second, tokens2 = sub.train.evaluate(model, ids, N, T)
    return {"loss": float(first), "loss_again": float(second), "lm_loss_probe": _loss_probe(sub),
            "tokens": int(tokens), "tokens_again": int(tokens2),
            "design_tokens": int(sum(len(s) + 1 for s in sentences)),
            "n_predicted": int(n_predicted(ids))}


def checkpoint_case(sub, rng, V=7):
    """save_checkpoint writes a temporary file and renames it onto the path (so a killed run
    never leaves a truncated checkpoint); the file loads back; nothing is left over."""
    _setup(rng)
    model = _tiny_model(rng, V)
    targets = []
    original = torch.save

    def spy(obj, f, *args, **kw):
        targets.append(os.fspath(f) if isinstance(f, (str, os.PathLike)) else "<file object>")
        return original(obj, f, *args, **kw)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "best.pt")
        with open(path, "wb") as f:   # an older checkpoint that must be replaced
            f.write(b"old")
        torch.save = spy
        try:
            sub.train.save_checkpoint(model, path, epoch=3, valid_loss=1.5)
        finally:
            torch.save = original
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        same = all(torch.equal(ckpt["model"][k], v) for k, v in model.state_dict().items())
        leftovers = sorted(set(os.listdir(d)) - {"best.pt"})
    return {"saved_to_final_path_directly": path in targets,
            "used_torch_save": bool(targets),
            "weights_match": bool(same), "epoch": int(ckpt.get("epoch", -1)),
            "valid_loss": float(ckpt.get("valid_loss", math.nan)),
            "leftover_files": len(leftovers)}


def fit_logic(sub, rng, valid=(5.0, 4.0, 4.5, 3.5, 3.6, 3.7, 3.0), epochs=10, patience=2,
              lr=0.01, lr_decay=0.5, time_budget=None):
    """fit's bookkeeping, given scripted steps through its ``train_epoch`` and ``evaluate``
    parameters (its API takes the epoch and the evaluation as arguments): train_epoch adds
    1 to every weight (so the weights say which epoch they come from) and evaluate returns
    the scripted validation losses. Checks the history, the learning rates (the schedule),
    when it stops and why, which weights it keeps and what it checkpointed."""
    _setup(rng)
    model = _tiny_model(rng, 6)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    calls = {"train": 0, "eval": 0}
    T = sub.train

    def fake_train_epoch(m, *args, **kw):
        calls["train"] += 1
        with torch.no_grad():
            for p in m.parameters():
                p.add_(1.0)
        return {"loss": 10.0 - calls["train"], "tokens": 100, "chunk_loss": [1.0, 2.0],
                "grad_norm": [0.5, 0.25]}

    def fake_evaluate(m, *args, **kw):
        k = calls["eval"]
        calls["eval"] += 1
        return (float(valid[k]) if k < len(valid) else 9.0), 50

    cfg = T.TrainConfig(epochs=epochs, patience=patience, lr=lr, lr_decay=lr_decay,
                        time_budget=time_budget)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "best.pt")
        hist = T.fit(model, np.arange(50), np.arange(30), cfg, checkpoint=path,
                     progress=False, log=None, train_epoch=fake_train_epoch,
                     evaluate=fake_evaluate)
        ckpt = torch.load(path, map_location="cpu", weights_only=True) \
            if os.path.exists(path) else {}

    def offset(state):   # how many epochs of +1 a set of weights has had
        k = "embedding.weight"
        return float((state[k] - start[k]).mean()) if k in state else math.nan
    return {
        "epochs_run": calls["train"],
        "valid_loss": [float(v) for v in hist.valid_loss],
        "train_loss": [float(v) for v in hist.train_loss],
        "lr": [float(v) for v in hist.lr],
        "best_epoch": int(hist.best_epoch),
        "stopped": str(hist.stopped),
        "kept_weights_of_epoch": round(offset(model.state_dict()) - 1),
        "checkpoint_epoch": int(ckpt.get("epoch", -1)) if ckpt else -1,
        "checkpoint_weights_of_epoch": round(offset(ckpt["model"]) - 1) if ckpt else -1,
    }


def training_run(sub, rng, cell="lstm", corpus="farm", E=24, H=24, N=4, T=6, epochs=20,
                 lr=0.05, bound=0.8):
    """A short real run: the student's model and fit on a tiny corpus (float32, one thread).
    Self-check: the best validation loss (the training text itself) falls below ``bound``."""
    g = _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    ids = stream(sentences, vocab)
    cls = sub.models.LSTMLM if cell == "lstm" else sub.models.RNNLM
    model = cls(len(vocab), E, H, num_layers=1, dropout=0.0, tie_weights=False)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.1, 0.1, generator=g)
    cfg = sub.train.TrainConfig(batch_size=N, bptt=T, lr=lr, epochs=epochs, patience=epochs,
                                clip=1.0, eval_batch_size=N)
    hist = sub.train.fit(model, ids, ids, cfg, progress=False, log=None)
    return {"best_valid": float(min(hist.valid_loss)) if hist.valid_loss else math.inf,
            "first_train": float(hist.train_loss[0]) if hist.train_loss else math.inf,
            "uniform": math.log(len(vocab) - 1), "bound": bound,
            "epochs": len(hist.valid_loss)}
