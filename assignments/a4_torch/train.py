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
    # Hint: F.cross_entropy wants (M, V) scores and (M,) targets: reshape; ignore_index=IGNORE.
    raise NotImplementedError("lm_loss: write this part")


def detach_state(state):
    """The same state values cut from the graph that computed them (truncated BPTT).

    Inputs:
    - state: None, a tensor (RNN) or a tuple of tensors (LSTM's (h, c))

    Returns the same structure with every tensor detached (None stays None).
    """
    # Hint: tensor.detach() shares the values but has no grad_fn.
    raise NotImplementedError("detach_state: write this part")


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
    # Hint: one norm over all the gradients together; when that norm is NaN the scale must stay
    # Hint: NaN, as torch's does (Python's min() would hide it).
    raise NotImplementedError("clip_grad_norm: write this part")


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
    # Hint: the state carried into a chunk must not remember how it was computed; otherwise
    # Hint: backward runs through every earlier chunk (and fails: their graphs are freed).
    raise NotImplementedError("train_epoch: write this part")


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
    # Hint: weight each chunk's mean loss by its number of targets that are not IGNORE.
    raise NotImplementedError("evaluate: write this part")


# -- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(model: nn.Module, path: str | Path, **extra) -> Path:
    """Save ``{"model": model.state_dict(), **extra}`` to ``path`` atomically.

    Write with ``torch.save`` to a temporary file in the same folder, then ``os.replace``
    it onto ``path``: a run killed mid-write leaves the previous checkpoint intact, never a
    truncated one. Returns ``path``.
    """
    path = Path(path)
    # Hint: a crash in the middle of a save must never leave a half-written checkpoint: write
    # Hint: somewhere else in the same folder first, then replace the target in one step.
    raise NotImplementedError("save_checkpoint: write this part")


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
    raise NotImplementedError("make_optimizer: write this part")


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
    # Hint: measure the budget with a monotonic clock, from the start of training, and check
    # Hint: it between chunks as well as between epochs.
    raise NotImplementedError("fit: write this part")
    return hist
