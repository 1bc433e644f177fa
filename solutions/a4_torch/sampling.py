"""Drawing the next token from a torch model's logits: temperature, top-k and greedy.

Greedy decoding takes the most likely token; sampling draws from the softmax of the logits
divided by a temperature (below 1: sharper, above 1: flatter), optionally restricted to the
k most likely tokens. All randomness comes from a ``torch.Generator`` argument, so one seed
gives one draw. ``<s>`` is never produced.

These are the token-level pieces, on batches of logits on any device. Whole sentences come
from ``lmcore.lm.generate(TorchLM(model, vocab), rng, temperature=..., top_k=...)``, the one
sampler of the course, which applies the same temperature and top-k to the probabilities of
``TorchLM.next_distribution``.

Letters: minibatch N, vocabulary V.
"""
from __future__ import annotations

import torch

from .models import BOS_ID, prediction_log_softmax


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     bos_id: int = BOS_ID) -> torch.Tensor:
    """The distribution that the next token is drawn from.

    In order: ``<s>`` is excluded (probability 0); the logits are divided by
    ``temperature`` BEFORE the softmax; with ``top_k``, only the tokens whose scaled logit is
    at least the k-th largest keep probability (ties at the k-th value are kept); then
    softmax over what is left. ``temperature == 0`` means greedy: all the mass on the
    largest logit (the first one on a tie).

    Inputs:
    - logits: (V,) or (N, V) scores for the next token
    - temperature: float >= 0
    - top_k: int >= 1, or None for the whole vocabulary

    Returns:
    - probs: same shape as logits, each row sums to one, 0 at ``<s>``
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    ### BEGIN SOLUTION
    # HINT: scale the LOGITS: softmax(z / t). Scaling probabilities after the softmax is not
    # HINT: the same (and dividing them by t changes nothing once they are renormalised).
    logp = prediction_log_softmax(logits, bos_id)
    if temperature == 0:
        probs = torch.zeros_like(logp)
        return probs.scatter_(-1, logp.argmax(dim=-1, keepdim=True), 1.0)
    z = logp / temperature
    if top_k is not None:
        kth = torch.topk(z, min(top_k, z.shape[-1]), dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.softmax(z, dim=-1)
    ### END SOLUTION


def sample_next(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
                top_k: int | None = None) -> torch.Tensor:
    """Draw one next token per row from ``next_token_probs``, each row independently.

    Every random number comes from ``generator`` (``torch.multinomial`` takes one; it draws
    on the generator's device, so move the probabilities there), so the same generator state
    gives the same draws. ``temperature == 0`` draws nothing: the greedy token.

    Inputs:
    - logits: (N, V)
    - generator: torch.Generator

    Returns:
    - ids: (N,) int64 on the logits' device
    """
    ### BEGIN SOLUTION
    probs = next_token_probs(logits, temperature, top_k)
    if temperature == 0:
        return probs.argmax(dim=-1)
    ids = torch.multinomial(probs.to(generator.device), 1, generator=generator)
    return ids.squeeze(-1).to(logits.device)
    ### END SOLUTION
