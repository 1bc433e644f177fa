"""Free-running generation: the model reads its own samples (no teacher forcing any more).

Greedy decoding takes the most likely token; sampling draws from the softmax of the logits
divided by a temperature (below 1: sharper, above 1: flatter), optionally restricted to the
k most likely tokens. All randomness comes from a ``torch.Generator`` argument, so one seed
gives one text. ``<s>`` is never produced.

Letters: minibatch N, vocabulary V.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lmcore.vocab import Vocab

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
    """Draw one next token per row from ``next_token_probs``.

    Uses ``torch.multinomial(probs, 1, generator=generator)`` on the generator's device
    (move the probabilities there), so the same generator state gives the same draws.

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


@torch.no_grad()
def generate(model: nn.Module, vocab: Vocab, generator: torch.Generator,
             prompt: Sequence[str] = (), max_tokens: int = 30, temperature: float = 1.0,
             top_k: int | None = None, device: str | torch.device = "cpu") -> list[str]:
    """One sentence, free-running, from ``<s>`` followed by ``prompt``.

    Put the model in evaluation mode; read ``<s> + prompt`` in one forward pass; then
    repeatedly draw a token with ``sample_next`` from the last position's logits and feed
    it back (one step at a time, carrying the state). Stop when ``</s>`` is drawn (not
    included) or after ``max_tokens`` drawn tokens.

    Returns the prompt's tokens (out-of-vocabulary ones as ``<unk>``) followed by the drawn
    ones: a list of str.
    """
    ### BEGIN SOLUTION
    model.eval()
    ids = [vocab.bos_id, *vocab.encode(prompt)]
    out = vocab.decode(ids[1:])
    x = torch.tensor([ids], dtype=torch.int64, device=device)
    logits, state = model(x, None)
    for _ in range(max_tokens):
        nxt = sample_next(logits[:, -1].double(), generator, temperature, top_k)
        if int(nxt[0]) == vocab.eos_id:
            break
        out.append(vocab.token(int(nxt[0])))
        logits, state = model(nxt.view(1, 1).to(device), state)
    return out
    ### END SOLUTION
