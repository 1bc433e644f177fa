"""Training a recurrent LM on a token stream: teacher forcing with truncated BPTT.

The stream (``lmcore.batching.stream``) is cut into N rows read T steps at a time
(``lmcore.batching.bptt_batches``); chunk k + 1 of a row continues chunk k, so the hidden
state is carried from chunk to chunk, but detached: each chunk backpropagates through its own
T steps only. One epoch is one pass over the stream; after each, the model is evaluated on
the validation stream, the learning rate is cut when it did not improve, the best model is
checkpointed, and training stops early when it has not improved for ``patience`` epochs.

Letters: minibatch (rows) N, chunk length T, vocabulary V.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmcore.batching import IGNORE, bptt_batches, n_chunks



@dataclass
class TrainConfig:
    """One training run; ``batch_size``, ``bptt``, ``clip``, ``lr``, ``time_budget`` and
    ``seed`` mean what they mean in a2's and a3's TrainConfig (a5 trains with this one)."""
    batch_size: int = 32            # N rows of the stream read side by side
    bptt: int = 35                  # T steps per chunk
    lr: float = 2e-3                # Adam's initial learning rate
    weight_decay: float = 0.0
    lr_decay: float = 0.5           # the learning rate is multiplied by this after a bad epoch
    clip: float | None = 0.5        # max global gradient norm (None: no clipping)
    epochs: int = 10
    patience: int = 2               # epochs without improvement before stopping
    time_budget: float | None = None  # seconds of training in all (None: no limit)
    max_chunks: int | None = None   # chunks per epoch at most (None: the whole stream)
    eval_batch_size: int = 16
    seed: int | None = 0            # torch's generator at the start of fit: the dropout masks
                                    # (None: leave it as it is)


@dataclass
class History:
    """What ``fit`` did, epoch by epoch (and chunk by chunk for the learning curve)."""
    train_loss: list[float] = field(default_factory=list)   # mean loss per token, per epoch
    valid_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)           # learning rate used in each epoch
    seconds: list[float] = field(default_factory=list)      # wall time of each epoch
    tokens: list[int] = field(default_factory=list)         # training tokens of each epoch
    chunk_loss: list[float] = field(default_factory=list)   # every chunk, in order
    grad_norm: list[float] = field(default_factory=list)    # before clipping, every chunk
    best_epoch: int = -1                                    # index into valid_loss
    stopped: str = ""                                       # "epochs", "patience" or "budget"

    @property
    def best_valid(self) -> float:
        return self.valid_loss[self.best_epoch] if self.best_epoch >= 0 else math.inf


# -- the pieces of one training step ------------------------------------------------------------
def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the predicted tokens of a chunk.

    Positions whose target is ``IGNORE`` predict nothing and are left out of both the sum
    and the count, so the loss averages exactly the tokens that perplexity counts (each
    word and each ``</s>`` once). The softmax runs over all V logits: ``<s>`` is never a
    target in a stream, so training drives its probability to about 0, and masking it here
    would cost a copy of the (N, T, V) logits at every step; the evaluation of the final
    table (``TorchLM``) excludes it exactly.

    Inputs:
    - logits: (N, T, V)
    - targets: (N, T) int64 ids or ``IGNORE``; at least one is not ``IGNORE``

    Returns:
    - loss: scalar tensor, sum of -ln p(target) / number of targets that are not IGNORE
    """
    ### BEGIN SOLUTION
    # HINT: F.cross_entropy wants (M, V) scores and (M,) targets: reshape; ignore_index=IGNORE.
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=IGNORE,
                           reduction="mean")
    ### END SOLUTION


def detach_state(state):
    """The same state values cut from the graph that computed them (truncated BPTT).

    Inputs:
    - state: None, a tensor (RNN) or a tuple of tensors (LSTM's (h, c))

    Returns the same structure with every tensor detached (None stays None).
    """
    ### BEGIN SOLUTION
    # HINT: tensor.detach() shares the values but has no grad_fn.
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)
    ### END SOLUTION


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float,
                   error_if_nonfinite: bool = False) -> torch.Tensor:
    """Scale the gradients in place so that their global norm is at most ``max_norm``:
    ``torch.nn.utils.clip_grad_norm_`` (norm 2), written by hand and exactly the same.

    - The total norm is the 2-norm of the per-parameter 2-norms (all gradients as one long
      vector); parameters whose ``.grad`` is None are skipped; none at all gives 0.
    - Every gradient is multiplied by ``clamp(max_norm / (total_norm + 1e-6), max=1)``, even
      when that is 1, so non-finite norms behave as torch's: an inf norm scales by 0 (inf
      entries become nan), a NaN norm makes everything NaN.
    - With ``error_if_nonfinite``, a NaN or inf norm raises RuntimeError and leaves the
      gradients untouched.

    Inputs:
    - parameters: tensors (e.g. ``model.parameters()``, which may be a generator)
    - max_norm: float

    Returns:
    - total_norm: scalar tensor, the norm before clipping
    """
    ### BEGIN SOLUTION
    # HINT: one norm over all the gradients together; when that norm is NaN the scale must stay
    # HINT: NaN, as torch's does (Python's min() would hide it).
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads]))
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(f"The total norm of order 2.0 for gradients is non-finite "
                           f"({total_norm.item()}), so it cannot be clipped")
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.detach().mul_(scale.to(g.device, g.dtype))
    return total_norm
    ### END SOLUTION


# -- one epoch, one evaluation ----------------------------------------------------------------
def train_epoch(model: nn.Module, ids: np.ndarray, optimizer: torch.optim.Optimizer,
                N: int, T: int, clip: float | None = None, device: str | torch.device = "cpu",
                max_chunks: int | None = None, deadline: float | None = None,
                on_chunk: Callable[[dict], None] | None = None) -> dict:
    """One pass of teacher forcing with truncated BPTT over ``bptt_batches(ids, N, T)``.

    For each chunk (x, y): put the model in training mode (once), start from the previous
    chunk's state DETACHED, compute the logits and ``lm_loss``, zero the gradients,
    backpropagate, clip with ``clip_grad_norm`` (when ``clip`` is not None), step the
    optimizer. The first chunk starts from None (zeros).

    Inputs:
    - model: forward(inputs, state) -> (logits, state)
    - ids: (S,) int64 id stream
    - optimizer: over model.parameters()
    - N, T: rows and chunk length
    - clip: max global gradient norm, or None
    - device: where x and y go
    - max_chunks: stop after this many chunks (None: all)
    - deadline: a time.perf_counter() value; stop before a chunk that starts after it
    - on_chunk: called after each step with {"loss": float, "tokens": int, "grad_norm": float}

    Returns a dict:
    - "loss": float, mean loss per predicted token over the epoch (token-weighted: the
      last chunk may be shorter or hold IGNOREd positions)
    - "tokens": int, predicted tokens seen
    - "chunk_loss": list of each chunk's mean loss; "grad_norm": list of each chunk's norm
      before clipping (nan when not clipping)
    """
    ### BEGIN SOLUTION
    # HINT: the state carried into a chunk must not remember how it was computed; otherwise
    # HINT: backward runs through every earlier chunk (and fails: their graphs are freed).
    model.train()
    state = None
    total, count = 0.0, 0
    chunk_loss, grad_norm = [], []
    for k, (x, y) in enumerate(bptt_batches(ids, N, T)):
        if (max_chunks is not None and k >= max_chunks) or (
                deadline is not None and time.perf_counter() > deadline):
            break
        x = torch.from_numpy(x).to(device)
        y = torch.from_numpy(y).to(device)
        state = detach_state(state)
        logits, state = model(x, state)
        loss = lm_loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = (clip_grad_norm(model.parameters(), clip).item() if clip is not None
                else math.nan)
        optimizer.step()
        n = int((y != IGNORE).sum())
        total += loss.item() * n
        count += n
        chunk_loss.append(loss.item())
        grad_norm.append(norm)
        if on_chunk is not None:
            on_chunk({"loss": loss.item(), "tokens": n, "grad_norm": norm})
    return {"loss": total / max(count, 1), "tokens": count, "chunk_loss": chunk_loss,
            "grad_norm": grad_norm}
    ### END SOLUTION


@torch.no_grad()
def evaluate(model: nn.Module, ids: np.ndarray, N: int = 16, T: int = 35,
             device: str | torch.device = "cpu") -> tuple[float, int]:
    """Mean loss per predicted token of a whole stream, with the state carried across chunks.

    The model is put in evaluation mode (dropout off) and left there; ``train_epoch`` puts
    it back in training mode. The mean is over tokens, not over chunks.

    Returns a tuple of:
    - loss: float, sum of -ln p over every predicted token / their number
    - tokens: int, the number of predicted tokens (``lmcore.batching.n_predicted(ids)``)
    """
    ### BEGIN SOLUTION
    # HINT: weight each chunk's mean loss by its number of targets that are not IGNORE.
    model.eval()
    state = None
    total, count = 0.0, 0
    for x, y in bptt_batches(ids, N, T):
        x = torch.from_numpy(x).to(device)
        y = torch.from_numpy(y).to(device)
        logits, state = model(x, state)
        n = int((y != IGNORE).sum())
        if n:
            total += lm_loss(logits.double(), y).item() * n
            count += n
    return total / max(count, 1), count
    ### END SOLUTION


# -- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(model: nn.Module, path: str | Path, **extra) -> Path:
    """Save ``{"model": model.state_dict(), **extra}`` to ``path`` atomically.

    Write with ``torch.save`` to a temporary file in the same folder, then ``os.replace``
    it onto ``path``: a run killed mid-write leaves the previous checkpoint intact, never a
    truncated one. Returns ``path``.
    """
    path = Path(path)
    ### BEGIN SOLUTION
    # HINT: a crash in the middle of a save must never leave a half-written checkpoint: write
    # HINT: somewhere else in the same folder first, then replace the target in one step.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"model": model.state_dict(), **extra}, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
    ### END SOLUTION


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (provided); returns
    the whole checkpoint dict."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    return ckpt


# -- the whole run ---------------------------------------------------------------------------
def make_optimizer(model: nn.Module, config: TrainConfig):
    """Adam over ``model.parameters()`` with ``config.lr`` and ``config.weight_decay``, and
    its schedule: ``ReduceLROnPlateau`` on the validation loss, multiplying the learning rate
    by ``config.lr_decay`` after every epoch that did not improve it (patience 0).

    Returns a tuple of:
    - optimizer: torch.optim.Adam
    - scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau (call ``scheduler.step(valid)``)
    """
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min",
                                                           factor=config.lr_decay, patience=0)
    return optimizer, scheduler
    ### END SOLUTION


@contextlib.contextmanager
def progress_bar(total: int, description: str, enabled: bool = True):
    """A rich progress bar over ``total`` steps (provided): yields ``advance(**fields)``.

    Disabled, it yields a function that does nothing, so code and tests run the same way.
    """
    if not enabled:
        yield lambda **kw: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total, loss=math.nan)
        yield lambda **kw: bar.update(task, advance=1, **kw)


def fit(model: nn.Module, train_ids: np.ndarray, valid_ids: np.ndarray, config: TrainConfig,
        checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
        progress: bool = True, log: Callable[[str], None] | None = print, *,
        make_optimizer: Callable = make_optimizer, train_epoch: Callable = train_epoch,
        evaluate: Callable = evaluate) -> History:
    """Train with ``train_epoch``, evaluate on ``valid_ids`` with ``evaluate`` after every
    epoch, and keep the best model.

    Per epoch, in order: ``train_epoch`` (with ``config``'s N, T, clip and max_chunks, the
    deadline of the time budget, and an ``on_chunk`` that advances the progress bar), then
    ``evaluate`` on valid (N = ``config.eval_batch_size``, T = ``config.bptt``), then
    ``scheduler.step(valid_loss)`` (from ``make_optimizer``). Record the epoch in the
    History (the ``lr`` recorded is the one the epoch trained with).
    A validation loss lower than every earlier one makes the epoch the best: save the model
    with ``save_checkpoint(model, checkpoint, epoch=k, valid_loss=v)`` when ``checkpoint`` is
    given, and keep a copy of its state_dict. Stop after ``config.epochs`` epochs
    ("epochs"), after ``config.patience`` epochs in a row without a new best ("patience"),
    or when the time budget is spent ("budget"; the epoch cut short is still evaluated).
    At the end, load the best weights back into the model.

    The optimiser, the epoch and the evaluation are parameters (keyword-only, this module's
    functions by default): ``fit`` is the bookkeeping around them, and the same bookkeeping
    trains other models with other optimisers (a5 passes AdamW with a warm-up and a cosine
    decay as ``make_optimizer``). Call them by these parameters' names.

    Returns: History
    """
    device = torch.device(device)
    if config.seed is not None:
        torch.manual_seed(config.seed)
    model.to(device)
    hist = History()
    say = log or (lambda s: None)
    ### BEGIN SOLUTION
    # HINT: measure the budget with a monotonic clock, from the start of training, and check
    # HINT: it between chunks as well as between epochs.
    optimizer, scheduler = make_optimizer(model, config)
    start = time.perf_counter()
    deadline = None if config.time_budget is None else start + config.time_budget
    best_state, bad = None, 0
    total = n_chunks(train_ids, config.batch_size, config.bptt)
    if config.max_chunks is not None:
        total = min(total, config.max_chunks)
    hist.stopped = "epochs"
    for epoch in range(config.epochs):
        lr = optimizer.param_groups[0]["lr"]
        t0 = time.perf_counter()
        with progress_bar(total, f"epoch {epoch + 1}", enabled=progress) as advance:
            stats = train_epoch(model, train_ids, optimizer, config.batch_size, config.bptt,
                                clip=config.clip, device=device, max_chunks=config.max_chunks,
                                deadline=deadline,
                                on_chunk=lambda s: advance(loss=s["loss"]))
        valid, _ = evaluate(model, valid_ids, config.eval_batch_size, config.bptt, device)
        scheduler.step(valid)
        hist.train_loss.append(stats["loss"])
        hist.valid_loss.append(valid)
        hist.lr.append(lr)
        hist.seconds.append(time.perf_counter() - t0)
        hist.tokens.append(stats["tokens"])
        hist.chunk_loss += stats["chunk_loss"]
        hist.grad_norm += stats["grad_norm"]
        improved = valid < hist.best_valid
        if improved:
            hist.best_epoch, bad = epoch, 0
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None:
                save_checkpoint(model, checkpoint, epoch=epoch, valid_loss=valid)
        else:
            bad += 1
        say(f"epoch {epoch + 1}: train {stats['loss']:.3f}, valid {valid:.3f} "
            f"(ppl {math.exp(min(valid, 700)):.1f}), lr {lr:.2g}, "
            f"{stats['tokens'] / max(hist.seconds[-1], 1e-9):.0f} tokens/s"
            + ("  *best*" if improved else ""))
        if deadline is not None and time.perf_counter() > deadline:
            hist.stopped = "budget"
            break
        if bad >= config.patience:
            hist.stopped = "patience"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    ### END SOLUTION
    return hist
