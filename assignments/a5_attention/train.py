"""Training the transformer with a4's loop: AdamW, warm-up and cosine decay.

The loop is a4's (``a4_torch.train``: the same ``TrainConfig``, truncated chunks of the stream,
clipping by global norm, evaluation after every epoch, early stopping, the best weights kept).
What a transformer changes is the optimiser:

- AdamW (decoupled weight decay), with the decay applied to the weight matrices only: biases
  and LayerNorm gains and shifts are not pulled towards 0 (``param_groups``).
- A learning rate that rises linearly for ``warmup`` steps and then follows half a cosine down
  to ``min_lr`` (``warmup_cosine``): the first steps of Adam use poor moment estimates, and a
  large step then can push LayerNorm and attention into saturation that training never undoes.

``make_optimizer`` (provided) builds both, and moves the learning rate after every optimiser
step (a step hook), so a4's ``train_epoch`` needs no change; ``fit`` (provided) runs a4's
``fit`` with it (a4's ``fit`` takes its optimiser as the ``make_optimizer`` parameter).
"""
from __future__ import annotations

import importlib
import math
import time

import torch
from torch import nn


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, base_lr: float,
                  min_lr: float = 0.0) -> float:
    """The learning rate of optimiser step ``step`` (0-based).

    - warm-up, step < warmup_steps: base_lr * (step + 1) / warmup_steps (the first step is not 0)
    - then, with p = (step - warmup_steps) / max(1, total_steps - warmup_steps), the cosine
      min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2, from base_lr at the end of warm-up
      down to min_lr at step == total_steps
    - step >= total_steps: min_lr

    Returns a float.
    """
    # Hint: the cosine's clock starts when the warm-up ends, not at step 0.
    raise NotImplementedError("warmup_cosine: write this part")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW's two parameter groups: ``[{"params": decay, "weight_decay": weight_decay},
    {"params": no_decay, "weight_decay": 0.0}]``.

    ``decay`` holds the parameters with two or more dimensions (Linear and Embedding weights,
    the tied embedding once), ``no_decay`` the others (biases, LayerNorm gains and shifts),
    each list in ``model.named_parameters()`` order. Every trainable parameter is in exactly
    one group.
    """
    # Hint: matrices decay, vectors do not; a tied weight is one parameter, in one group once.
    raise NotImplementedError("param_groups: write this part")


class _EpochScheduler:
    """What a4's ``fit`` steps after each epoch (``scheduler.step(valid_loss)``): nothing to do,
    the cosine moves every step."""

    def step(self, *args, **kwargs) -> None:
        pass


def make_optimizer(model: nn.Module, config, total_steps: int, warmup_steps: int = 50,
                   min_lr: float = 0.0, betas=(0.9, 0.95)):
    """AdamW over ``param_groups(model, config.weight_decay)`` whose learning rate follows
    ``warmup_cosine(k, total_steps, warmup_steps, config.lr, min_lr)`` at its k-th step
    (provided). With ``config.time_budget``, the schedule runs on whichever is further along,
    steps or seconds (k is at least total_steps * elapsed / budget), so a run cut by its
    budget still ends its cosine.

    Returns (optimizer, scheduler): the scheduler's ``step(valid)`` does nothing (a4's ``fit``
    calls it after every epoch)."""
    # fused: one kernel per step for all parameters (on a CPU, about 1.4x the tokens/s of the
    # default loop over parameters, whose dozen passes over the (V, D) embedding dominate)
    opt = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr,
                            betas=betas, fused=True)
    budget = getattr(config, "time_budget", None)
    start = time.perf_counter()
    done = [0]

    def set_lr(k: int) -> None:
        lr = warmup_cosine(k, total_steps, warmup_steps, config.lr, min_lr)
        for group in opt.param_groups:
            group["lr"] = lr

    def after_step(optimizer, args, kwargs) -> None:
        done[0] += 1
        k = done[0]
        if budget:
            k = max(k, int(total_steps * (time.perf_counter() - start) / budget))
        set_lr(k)

    set_lr(0)
    opt.register_step_post_hook(after_step)
    return opt, _EpochScheduler()


def fit(model: nn.Module, train_ids, valid_ids, config, warmup_steps: int = 50,
        min_lr: float = 0.0, a4_train=None, **kwargs):
    """a4's ``fit`` with this module's optimiser (provided).

    ``a4_train`` is a4's ``train`` module (default: ``import a4_torch.train``, your a4 beside
    this package); its ``fit`` gets this module's optimiser as ``make_optimizer``. The total
    number of steps for the cosine is ``config.epochs`` epochs of chunks (``config.max_chunks``
    per epoch at most). Other keyword arguments go to a4's ``fit``. Returns its History.
    """
    from lmcore.batching import n_chunks

    a4 = a4_train or importlib.import_module("a4_torch.train")
    per_epoch = n_chunks(train_ids, config.batch_size, config.bptt)
    if config.max_chunks is not None:
        per_epoch = min(per_epoch, config.max_chunks)
    total = max(1, per_epoch * config.epochs)
    return a4.fit(model, train_ids, valid_ids, config,
                  make_optimizer=lambda m, c: make_optimizer(m, c, total, warmup_steps, min_lr),
                  **kwargs)
