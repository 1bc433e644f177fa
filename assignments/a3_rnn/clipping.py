"""Gradient clipping, and spotting the step where training blew up.

Gradients travel as a dict ``{parameter name: array}`` (the model's ``grads``). Nothing here
modifies its inputs: clipped gradients are new arrays.

``clip_grad_norm`` is ``torch.nn.utils.clip_grad_norm_`` (torch 2.13) in numpy, exactly:
  - the total norm is the p-norm of the per-parameter p-norms (for p = 2, the norm of all the
    gradients seen as one long vector); an empty dict has norm 0.0;
  - every gradient is multiplied by the same scale min(1, max_norm / (total_norm + 1e-6)), so
    the update keeps its direction and gradients already below the threshold are unchanged
    (times 1.0, not rescaled up);
  - non-finite norms are not special-cased: an inf norm gives scale 0 (finite entries become
    0, inf entries 0 * inf = nan) and a NaN norm gives scale NaN (everything NaN), unless
    ``error_if_nonfinite=True``, which raises RuntimeError instead and leaves nothing clipped;
  - it returns the total norm before clipping.
"""
from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Clip gradients by their global norm, as torch.nn.utils.clip_grad_norm_ does.

    Inputs:
    - grads: dict {name: array of any shape}
    - max_norm: float, the largest total norm allowed
    - norm_type: float, p of the p-norm (2.0 by default; float('inf') for the max-abs norm)
    - error_if_nonfinite: if True, raise RuntimeError when the total norm is NaN or infinite

    Returns a tuple of:
    - clipped: dict {name: new array of the same shape}, each gradient times the same scale
      min(1, max_norm / (total_norm + 1e-6))
    - total_norm: float, the norm of all the gradients before clipping
    """
    clipped, total_norm = None, None
    # Hint: one norm over ALL the gradients together (not one per tensor), then one common scale.
    # Hint: np.minimum (unlike Python's min) keeps a NaN scale NaN, as torch.clamp does.
    raise NotImplementedError("clip_grad_norm: write this part")
    return clipped, total_norm


def clip_grad_value(grads, clip_value):
    """Clip every gradient entry into [-clip_value, clip_value] (torch's clip_grad_value_).

    Unlike norm clipping this changes the direction of the update: large entries are cut to
    the threshold while small ones are kept. NaN entries stay NaN.

    Inputs:
    - grads: dict {name: array}
    - clip_value: float > 0

    Returns:
    - clipped: dict {name: new array of the same shape}
    """
    clipped = None
    # Hint: np.clip returns a new array.
    raise NotImplementedError("clip_grad_value: write this part")
    return clipped


def first_nonfinite(losses, grad_norms):
    """The first training step whose loss or gradient is not finite.

    A gradient counts as non-finite when its total norm is NaN or infinite (so also when finite
    entries are so large that the norm overflows: such a gradient cannot be clipped either).

    Inputs:
    - losses: sequence of S floats, the loss at each step
    - grad_norms: sequence of S floats, the total gradient norm at each step

    Returns:
    - step: int, the first index s where losses[s] or grad_norms[s] is NaN or +-inf, or None if
      every step is finite
    """
    # Hint: math.isfinite is False for NaN and for both infinities.
    raise NotImplementedError("first_nonfinite: write this part")
