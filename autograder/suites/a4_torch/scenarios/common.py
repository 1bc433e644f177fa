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
