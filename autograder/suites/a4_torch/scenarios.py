"""Scenarios of assignment 4 (PyTorch): each calls the submission's API on seeded inputs and
returns plain data, judged in the parent against the reference's output.

Every scenario runs single-threaded (``torch.set_num_threads(1)``) and draws all of its
randomness from ``rng`` (numpy) or from a ``torch.Generator`` / ``torch.manual_seed`` seeded
from it, so the reference and a submission see exactly the same inputs.

The training-loop scenarios use ``_TinyLM``, a known-good model defined here, so that a
mistake in the student's model costs the model's tests, not the loop's.
"""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import torch
from torch import nn

from lmcore.batching import IGNORE, n_predicted, stream
from lmcore.lm import UniformLM
from lmcore.vocab import Vocab

# -- tiny corpora (selected by name in params) -------------------------------------------------
CORPORA = {
    "farm": [
        "the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .",
        "the dog saw the cat on the mat .", "a bird sat on the dog .",
        "the bird saw a cat .", "a dog and a cat sat .", "the mat is on the log .",
    ],
    "verse": [
        "to be or not to be , that is the question .",
        "the rest is silence .", "what a piece of work is a man !",
        "we are such stuff as dreams are made on .", "once more unto the breach , friends .",
        "o brave new world , that has such people in it !", "to sleep , perchance to dream .",
    ],
}


def _sentences(corpus: str) -> list[list[str]]:
    return [line.split() for line in CORPORA[corpus]]


def _setup(rng: np.random.Generator) -> torch.Generator:
    """Single thread, global torch seed from rng (dropout), and a generator for the rest."""
    torch.set_num_threads(1)
    seed = int(rng.integers(2**31))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _state_list(state) -> list:
    """A model's state as a list of arrays: [h] for the RNN, [h, c] for the LSTM."""
    if isinstance(state, torch.Tensor):
        return [_np(state)]
    if isinstance(state, (tuple, list)):
        return [_np(s) for s in state]
    raise TypeError(f"the state must be a tensor (RNN) or a pair (h, c) (LSTM), got "
                    f"{type(state).__name__}")


# -- weights by name ---------------------------------------------------------------------------
def _weight_shapes(cell: str, V: int, E: int, H: int, L: int) -> dict[str, tuple]:
    """The state_dict the docstring promises: names and shapes."""
    G = 4 * H if cell == "lstm" else H
    shapes = {"embedding.weight": (V, E)}
    for k in range(L):
        inp = E if k == 0 else H
        shapes.update({f"rnn.weight_ih_l{k}": (G, inp), f"rnn.weight_hh_l{k}": (G, H),
                       f"rnn.bias_ih_l{k}": (G,), f"rnn.bias_hh_l{k}": (G,)})
    shapes.update({"decoder.weight": (V, H), "decoder.bias": (V,)})
    return shapes


def _random_weights(rng, cell, V, E, H, L, tie) -> dict[str, torch.Tensor]:
    w = {name: torch.from_numpy(rng.standard_normal(shape) * 0.4)
         for name, shape in _weight_shapes(cell, V, E, H, L).items()}
    if tie:
        w["decoder.weight"] = w["embedding.weight"]
    return w


def _load(model: nn.Module, weights: dict) -> None:
    have = set(model.state_dict())
    missing, unexpected = sorted(set(weights) - have), sorted(have - set(weights))
    if missing or unexpected:
        raise AssertionError(
            "the model's parameters are not named as the docstring says (attributes "
            "embedding, rnn, decoder): " + (f"missing {missing}" if missing else "")
            + ("; " if missing and unexpected else "") + (f"unexpected {unexpected}"
                                                          if unexpected else ""))
    model.load_state_dict(weights, strict=True)


def _build(sub, cell: str, V: int, E: int, H: int, L: int, dropout: float, tie: bool):
    cls = sub.models.LSTMLM if cell == "lstm" else sub.models.RNNLM
    model = cls(V, E, H, num_layers=L, dropout=dropout, tie_weights=tie)
    return model.double()


# -- models.py ----------------------------------------------------------------------------------
def model_forward(sub, rng, cell="rnn", V=11, E=6, H=5, L=1, N=3, T=4, tie=False,
                  with_state=True):
    """Logits, final state and parameter gradients of the student's RNNLM / LSTMLM for given
    weights, inputs and initial state (float64). The gradients are those of a fixed random
    linear function of the logits and the final state, so they test the model alone."""
    _setup(rng)
    model = _build(sub, cell, V, E, H, L, 0.0, tie)
    _load(model, _random_weights(rng, cell, V, E, H, L, tie))
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    n_state = 2 if cell == "lstm" else 1
    state = [torch.from_numpy(rng.standard_normal((L, N, H))) for _ in range(n_state)]
    state_in = (tuple(state) if cell == "lstm" else state[0]) if with_state else None
    x_copy = x.clone()
    logits, new_state = model(x, state_in)
    new_list = list(new_state) if cell == "lstm" else [new_state]
    R = torch.from_numpy(rng.standard_normal((N, T, V)))
    Rs = [torch.from_numpy(rng.standard_normal((L, N, H))) for _ in range(n_state)]
    objective = (logits * R).sum() + sum((s * r).sum() for s, r in zip(new_list, Rs))
    objective.backward()
    grads = {name: _np(p.grad) for name, p in model.named_parameters() if p.grad is not None}
    return {
        "logits": _np(logits),
        "state": _state_list(new_state),
        "grads": grads,
        "tied": bool(model.decoder.weight is model.embedding.weight),
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "inputs_unchanged": bool(torch.equal(x, x_copy)),
    }


def model_dropout(sub, rng, cell="lstm", V=9, E=6, H=6, L=2, N=2, T=5, p=0.5):
    """Dropout: off in eval mode (the logits equal the reference's), on in training mode
    (two training-mode passes differ from the eval-mode one)."""
    _setup(rng)
    model = _build(sub, cell, V, E, H, L, p, False)
    _load(model, _random_weights(rng, cell, V, E, H, L, False))
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    with torch.no_grad():
        model.eval()
        eval_logits, _ = model(x, None)
        model.train()
        train_logits, _ = model(x, None)
    return {"eval_logits": _np(eval_logits),
            "train_differs": bool(not torch.allclose(train_logits, eval_logits))}


def model_tying(sub, rng, cell="lstm", V=13, E=4, H=4):
    """Weight tying: one shared parameter, and E != H refused with a ValueError."""
    _setup(rng)
    tied = _build(sub, cell, V, E, H, 1, 0.0, True)
    untied = _build(sub, cell, V, E, H, 1, 0.0, False)
    try:
        _build(sub, cell, V, E, H + 1, 1, 0.0, True)
        refused = "no error"
    except ValueError:
        refused = "ValueError"
    except Exception as err:  # noqa: BLE001 - which error came back is the answer
        refused = type(err).__name__
    return {"tied_is_shared": bool(tied.decoder.weight is tied.embedding.weight),
            "params_saved": int(sum(p.numel() for p in untied.parameters())
                                - sum(p.numel() for p in tied.parameters())),
            "mismatch_error": refused}


def log_softmax_case(sub, rng, N=3, T=4, V=7, scale=3.0):
    """prediction_log_softmax on random logits (float64): -inf at <s>, the rest normalised."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, T, V)) * scale)
    copy = logits.clone()
    out = sub.models.prediction_log_softmax(logits, Vocab.bos_id)
    return {"logp": _np(out), "inputs_unchanged": bool(torch.equal(logits, copy))}


def sentence_batch_case(sub, rng, corpus="farm", k=4, oov=True, empty=False):
    """sentence_batch on k sentences of a tiny corpus (some words out of vocabulary)."""
    _setup(rng)
    sentences = _sentences(corpus)
    vocab = Vocab.build(sentences, min_count=2 if oov else 1)
    pick = [sentences[int(i)] for i in rng.choice(len(sentences), size=k, replace=False)]
    if empty:
        pick.insert(1, [])
    x, y = sub.models.sentence_batch(pick, vocab)
    return {"x": _np(x).astype(np.int64), "y": _np(y).astype(np.int64)}


def language_model(sub, rng, cell="lstm", corpus="verse", E=8, H=8):
    """TorchLM (provided) around the student's model: logprobs of four sentences read as one
    stream, their perplexity, and next_distribution after a context (float64)."""
    _setup(rng)
    sentences = _sentences(corpus)
    vocab = Vocab.build(sentences, min_count=2)
    V = len(vocab)
    model = _build(sub, cell, V, E, H, 1, 0.0, False)
    _load(model, _random_weights(rng, cell, V, E, H, 1, False))
    from lmcore.lm import perplexity
    lm = sub.models.TorchLM(model, vocab)
    lp = lm.logprobs(sentences[:4])
    dist = lm.next_distribution(sentences[0][:3])
    return {"logprobs": np.asarray(lp, dtype=np.float64),
            "perplexity": float(perplexity(lm, sentences[:4])),
            "next": np.asarray(dist, dtype=np.float64)}


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


def _clip_params(rng, case: str, dtype=torch.float64):
    shapes = [(3, 4), (5,), (2, 3, 2), (4,)]
    scale = {"random": 1.0, "below": 1e-3, "tiny": 1e-30, "huge": 1e200, "inf": 1.0,
             "nan": 1.0, "error": 1.0, "none": 1.0}[case]
    if dtype == torch.float32 and case == "huge":
        scale = 1e30
    params = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    for k, p in enumerate(params):
        if case == "none" or k == 3:   # a parameter without gradient is skipped
            continue
        p.grad = torch.from_numpy(rng.standard_normal(p.shape) * scale).to(dtype)
    if case in ("inf", "error"):
        params[1].grad[2] = math.inf
    if case == "nan":
        params[2].grad[1, 1, 0] = math.nan
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
            "grads": [g for g in grads if g is not None],
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
    }


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
    Returns the two losses and the token counts (with the count DESIGN says)."""
    _setup(rng)
    sentences = _sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    model = _tiny_model(rng, len(vocab), dropout=dropout)
    model.train()
    ids = stream(sentences, vocab)
    first, tokens = sub.train.evaluate(model, ids, N, T)
    second, tokens2 = sub.train.evaluate(model, ids, N, T)
    return {"loss": float(first), "loss_again": float(second),
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
    """fit's bookkeeping with train_epoch and evaluate replaced by scripts: train_epoch adds
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

    saved_train, saved_eval = T.train_epoch, T.evaluate
    T.train_epoch, T.evaluate = fake_train_epoch, fake_evaluate
    try:
        cfg = T.TrainConfig(epochs=epochs, patience=patience, lr=lr, lr_decay=lr_decay,
                            time_budget=time_budget)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "best.pt")
            hist = T.fit(model, np.arange(50), np.arange(30), cfg, checkpoint=path,
                         progress=False, log=None)
            ckpt = torch.load(path, map_location="cpu", weights_only=True) \
                if os.path.exists(path) else {}
    finally:
        T.train_epoch, T.evaluate = saved_train, saved_eval

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
    sentences = _sentences(corpus)
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


# -- generate.py ------------------------------------------------------------------------------
def probs_case(sub, rng, N=2, V=9, temperature=1.0, top_k=None, scale=2.0):
    """next_token_probs on random float64 logits."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * scale)
    copy = logits.clone()
    probs = sub.generate.next_token_probs(logits, temperature, top_k)
    return {"probs": _np(probs), "inputs_unchanged": bool(torch.equal(logits, copy))}


def sample_case(sub, rng, N=3, V=8, draws=25, temperature=0.8, top_k=None):
    """sample_next with a seeded torch.Generator: the draws, and the same draws again after
    re-seeding (reproducibility)."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, V)) * 2.0)
    seed = int(rng.integers(2**31))
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(seed)
        runs.append([_np(sub.generate.sample_next(logits, g, temperature, top_k)).astype(np.int64)
                     for _ in range(draws)])
    first, again = np.stack(runs[0]), np.stack(runs[1])
    return {"draws": first, "reproducible": bool(np.array_equal(first, again)),
            "never_bos": bool((first != Vocab.bos_id).all())}


def generate_case(sub, rng, corpus="verse", prompt="to be", temperature=0.8, top_k=None,
                  max_tokens=12, samples=3):
    """generate from a prompt with a known-good model and a seeded generator: the sentences,
    and the same sentences again from the same seed."""
    _setup(rng)
    sentences = _sentences(corpus)
    vocab = Vocab.build(sentences, min_count=1)
    model = _tiny_model(rng, len(vocab), E=6, H=8)
    seed = int(rng.integers(2**31))
    out = []
    for _ in range(2):
        g = torch.Generator().manual_seed(seed)
        out.append([list(sub.generate.generate(model, vocab, g, prompt=prompt.split(),
                                               max_tokens=max_tokens, temperature=temperature,
                                               top_k=top_k))
                    for _ in range(samples)])
    return {"samples": [" ".join(map(str, s)) for s in out[0]],
            "reproducible": out[0] == out[1]}


# -- table.py ------------------------------------------------------------------------------
class _UnigramLM(UniformLM):
    """Add-one unigram model of the training sentences."""

    def __init__(self, vocab: Vocab, sentences):
        super().__init__(vocab)
        counts = np.ones(len(vocab))
        for s in sentences:
            for i in vocab.encode(s) + [vocab.eos_id]:
                counts[i] += 1
        counts[vocab.bos_id] = 0.0
        self.p = counts / counts.sum()

    def next_distribution(self, context):
        return self.p.copy()

    def logprobs(self, sentences):
        return np.log(np.array([self.p[i] for s in sentences
                                for i in self.vocab.encode(s) + [self.vocab.eos_id]]))


def table_case(sub, rng, corpus="farm", held_out=3):
    """perplexity_table for two simple models on held-out sentences."""
    _setup(rng)
    sentences = _sentences(corpus)
    order = rng.permutation(len(sentences))
    train = [sentences[i] for i in order[held_out:]]
    test = [sentences[i] for i in order[:held_out]]
    vocab = Vocab.build(train, min_count=1)
    models = {"uniform": UniformLM(vocab), "unigram": _UnigramLM(vocab, train)}
    rows = sub.table.perplexity_table(models, test)
    return [dict(r) if isinstance(r, dict) else r for r in rows]
