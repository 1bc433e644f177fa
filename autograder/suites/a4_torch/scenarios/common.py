"""Scenarios of a4_torch: shared by the scenario modules."""
from __future__ import annotations

import numpy as np
import torch


def _setup(rng: np.random.Generator) -> torch.Generator:
    """Single thread, global torch seed from rng (dropout), and a generator for the rest."""
    torch.set_num_threads(1)
    seed = int(rng.integers(2**31))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _loss_probe(sub) -> float:
    """lm_loss on uniform logits (V = 5) with 5 predicted targets and one IGNORE: ln 5 when it
    is the mean over predicted tokens, 5 ln 5 when it is a sum, (5/6) ln 5 when it divides by
    N*T. Lets a loop's judge tell a wrong lm_loss from a wrong loop. NaN when lm_loss fails."""
    from lmcore.batching import IGNORE
    try:
        y = torch.tensor([[0, 1, 2], [3, 4, IGNORE]])
        return float(sub.train.lm_loss(torch.zeros(2, 3, 5, dtype=torch.float64), y))
    except Exception:
        return float("nan")


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
