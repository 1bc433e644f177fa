"""Training the window LM: SGD and Adam written by hand, a learning-rate schedule, and the loop
that returns the learning curve.

The update rules return new arrays and new optimizer state instead of changing their
arguments; ``train`` is the one function that changes something it is given: it trains
``model`` in place, as torch's optimizers do.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass
class TrainConfig:
    """One training run. Steps are minibatch updates; an epoch is one pass over the windows.

    ``batch_size``, ``lr``, ``time_budget`` and ``seed`` mean what they mean in a3's and a4's
    TrainConfig (a window LM has no ``bptt`` and no ``clip``)."""
    max_steps: int = 1000          # length of the run, and the horizon of the schedule
    batch_size: int = 128          # N, windows per minibatch
    optimizer: str = "adam"        # "adam" or "sgd"
    lr: float = 2e-3               # peak learning rate
    warmup_steps: int = 50         # linear warm-up from 0 to lr
    min_lr_frac: float = 0.1       # the cosine decays to min_lr_frac * lr at max_steps
    beta1: float = 0.9             # Adam
    beta2: float = 0.999
    eps: float = 1e-8
    eval_every: int = 100          # steps between evaluations on valid (and at the last step)
    eval_windows: int = 4096       # valid windows used per evaluation (the first ones)
    time_budget: float | None = None  # seconds of training in all (None: no limit)
    seed: int = 0                  # the minibatch order, when train is given no rng


# -- learning-rate schedule ---------------------------------------------------------------------
def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for update number ``step`` (0-based).

    Linear warm-up, then cosine decay:
    - step < warmup_steps: lr * (step + 1) / warmup_steps
    - afterwards, with progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
      clipped to [0, 1]: min_lr + (lr - min_lr) * 0.5 * (1 + cos(pi * progress)),
      where min_lr = min_lr_frac * lr.
    """
    ### BEGIN SOLUTION
    c = config
    if step < c.warmup_steps:
        return c.lr * (step + 1) / c.warmup_steps
    progress = min(1.0, max(0.0, (step - c.warmup_steps) / max(1, c.max_steps - c.warmup_steps)))
    min_lr = c.min_lr_frac * c.lr
    return min_lr + (c.lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    ### END SOLUTION


# -- update rules ----------------------------------------------------------------------------
def sgd_step(w, dw, lr):
    """Plain SGD. Inputs: w, dw: arrays of the same shape; lr: float. Returns next_w = w - lr * dw
    (a new array; w is not changed)."""
    ### BEGIN SOLUTION
    return w - lr * dw
    ### END SOLUTION


class AdamState(NamedTuple):
    m: np.ndarray        # first moment, the shape of w
    v: np.ndarray        # second moment, the shape of w
    t: int               # updates done so far


def adam_init(w) -> AdamState:
    """Zero moments for a parameter of w's shape."""
    return AdamState(m=np.zeros_like(w), v=np.zeros_like(w), t=0)


def adam_step(w, dw, state: AdamState, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update (Kingma & Ba, 2015), with bias correction.

    t = state.t + 1
    m = beta1 * m + (1 - beta1) * dw;   v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t);         v_hat = v / (1 - beta2**t)
    next_w = w - lr * m_hat / (sqrt(v_hat) + eps)

    Inputs: w, dw: arrays of the same shape; state: AdamState; lr and the betas: floats.
    Returns a tuple (next_w, next_state); neither w nor state is changed.
    """
    ### BEGIN SOLUTION
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * dw
    v = beta2 * state.v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return next_w, AdamState(m=m, v=v, t=t)
    ### END SOLUTION


# -- the loop ----------------------------------------------------------------------------------
def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Endless minibatches of indices into n windows: each epoch a fresh permutation drawn from
    ``rng``, cut into batches of ``batch_size`` (the last batch of an epoch may be smaller)."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def evaluate(model, contexts, targets, batch_size: int = 1024) -> float:
    """Mean negative log-likelihood (nats per token) of targets (M,) given contexts (M, C)."""
    total = 0.0
    for start in range(0, len(targets), batch_size):
        logp = model.window_log_probs(contexts[start:start + batch_size])
        total -= logp[np.arange(len(logp)), targets[start:start + batch_size]].sum()
    return total / len(targets)


def train(model, train_sentences, valid_sentences, config: TrainConfig,
          rng: np.random.Generator | None = None) -> dict:
    """Train ``model`` in place by minibatch SGD or Adam and return the learning curve.

    Inputs:
    - model: a2_window.models.WindowLM (its params are updated)
    - train_sentences, valid_sentences: lists of token lists
    - config: TrainConfig
    - rng: the only source of randomness (the order of the minibatches, via ``minibatches``);
      None: ``np.random.default_rng(config.seed)``

    Each step: take the next minibatch, compute (loss, grads) = model.loss(...), set the learning
    rate lr_at(step, config), and replace each params[k] by its update (sgd_step, or adam_step
    with one AdamState per parameter). Every ``eval_every`` steps and after the last step,
    evaluate on the first ``eval_windows`` valid windows and append one point to the curve.
    Stop after ``max_steps`` steps, or earlier once ``time_budget`` seconds have passed.

    Returns: the curve, a dict of equal-length lists, one entry per evaluation:
    - "step": updates done so far
    - "train_loss": mean training loss over the steps since the previous evaluation
    - "valid_loss": mean NLL on the valid windows; "valid_ppl": exp(valid_loss)
    - "lr": the learning rate of the last step
    - "seconds": wall-clock seconds since the start
    """
    if config.optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {config.optimizer!r}")
    contexts, targets = model.windows(train_sentences)
    valid_contexts, valid_targets = model.windows(valid_sentences)
    valid_contexts = valid_contexts[:config.eval_windows]
    valid_targets = valid_targets[:config.eval_windows]
    rng = np.random.default_rng(config.seed) if rng is None else rng
    batches = minibatches(len(targets), config.batch_size, rng)
    curve = {"step": [], "train_loss": [], "valid_loss": [], "valid_ppl": [], "lr": [],
             "seconds": []}
    start = time.perf_counter()
    ### BEGIN SOLUTION
    # HINT: keep one AdamState per parameter name; replace model.params[k] with the new array.
    states = {k: adam_init(w) for k, w in model.params.items()}
    since_eval = []
    for step in range(config.max_steps):
        idx = next(batches)
        loss, grads = model.loss(contexts[idx], targets[idx])
        since_eval.append(loss)
        lr = lr_at(step, config)
        for k, w in model.params.items():
            if config.optimizer == "adam":
                model.params[k], states[k] = adam_step(w, grads[k], states[k], lr,
                                                       config.beta1, config.beta2, config.eps)
            else:
                model.params[k] = sgd_step(w, grads[k], lr)
        done = step + 1
        out_of_time = (config.time_budget is not None
                       and time.perf_counter() - start > config.time_budget)
        if done % config.eval_every == 0 or done == config.max_steps or out_of_time:
            valid_loss = evaluate(model, valid_contexts, valid_targets)
            curve["step"].append(done)
            curve["train_loss"].append(float(np.mean(since_eval)))
            curve["valid_loss"].append(float(valid_loss))
            curve["valid_ppl"].append(float(np.exp(valid_loss)))
            curve["lr"].append(float(lr))
            curve["seconds"].append(time.perf_counter() - start)
            since_eval = []
        if out_of_time:
            break
    ### END SOLUTION
    return curve
