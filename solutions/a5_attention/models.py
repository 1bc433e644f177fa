"""A small decoder-only transformer language model in PyTorch (GPT-2's architecture, scaled down).

Letters: minibatch N, sequence T, model width D, heads h, head size d_k = D / h, layers L,
context (block size) C, vocabulary V.

    x_0 = embedding(ids) + position(0 .. T-1)             learned positional embeddings
    x_l = x_{l-1} + attn(ln_1(x_{l-1}))                    pre-norm: the residual stream is
    x_l = x_l + mlp(ln_2(x_l))                             never normalised, only each branch
    logits = decoder(ln_f(x_L))                            decoder.weight IS embedding.weight

The model keeps the a4 contract ``forward(inputs, state) -> (logits, state)``, so a4's
training loop, evaluation, sampler and ``TorchLM`` serve it unchanged. Its *state* is not a
vector that summarises the past, as an RNN's is: it is the past itself, the last C - 1 token
ids. Each forward reads ``state + inputs`` (cropped to the last C tokens) and predicts the
positions of ``inputs``. Memory and time grow with the context (T^2 attention scores per
head), which is why the context is bounded by C.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: F401 - for your code (F.softmax, F.gelu, F.dropout, ...)
from torch import nn


def init_transformer(model: nn.Module, generator: torch.Generator, std: float = 0.02,
                     n_layers: int | None = None) -> nn.Module:
    """GPT-2's initialisation with ``generator`` (provided): every Linear and Embedding weight
    from N(0, std^2), biases 0, LayerNorm gain 1 and shift 0; the output projections of the
    residual branches (``*.proj.weight``) scaled by 1 / sqrt(2 L), so that the residual
    stream's variance does not grow with depth. A tied weight is one parameter, drawn once."""
    L = n_layers if n_layers is not None else len(getattr(model, "blocks", [])) or 1
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif ".ln" in name or name.startswith("ln"):
                p.fill_(1.0)
            else:
                s = std / math.sqrt(2 * L) if name.endswith("proj.weight") else std
                p.normal_(0.0, s, generator=generator)
    return model


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, written out (not ``F.scaled_dot_product_attention``).

    Attributes (names are part of the contract: weights are loaded by name):
    - qkv: nn.Linear(D, 3D); its output is [q | k | v], each (N, T, D)
    - proj: nn.Linear(D, D), the output projection applied after the heads are merged
    - attn_dropout: nn.Dropout on the attention weights; resid_dropout: nn.Dropout on the output
    - n_heads: h

    Head j of q is columns j*d_k .. (j+1)*d_k of q (the same for k and v); the heads are merged
    back in that order.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not a multiple of n_heads={n_heads}")
        self.n_heads = n_heads
        ### BEGIN SOLUTION
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """Inputs:
        - x: (N, T, D)
        - return_weights: also return the attention weights

        Returns:
        - y: (N, T, D), proj(merge(softmax(q k^T / sqrt(d_k) + causal mask) v)), dropout applied
        - weights (only with return_weights): (N, h, T, T), row t sums to one over keys 0..t
          (before dropout)
        """
        ### BEGIN SOLUTION
        # HINT: the future is removed before the softmax, as in attention.py; the heads go back
        # HINT: side by side in the order they were cut.
        N, T, D = x.shape
        h = self.n_heads
        q, k, v = self.qkv(x).split(D, dim=-1)
        q, k, v = (t.view(N, T, h, D // h).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D // h)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        y = self.attn_dropout(weights) @ v
        y = self.resid_dropout(self.proj(y.transpose(1, 2).reshape(N, T, D)))
        ### END SOLUTION
        return (y, weights) if return_weights else y


class Block(nn.Module):
    """One pre-norm decoder block.

    Attributes: ln1, ln2 (nn.LayerNorm(D)); attn (CausalSelfAttention); mlp, an nn.Sequential of
    fc = nn.Linear(D, 4D), nn.GELU(approximate="tanh"), proj = nn.Linear(4D, D), nn.Dropout,
    named ``mlp.fc``, ``mlp.act``, ``mlp.proj``, ``mlp.drop``.

        x = x + attn(ln1(x));   x = x + mlp(ln2(x))
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential()
        self.mlp.add_module("fc", nn.Linear(d_model, 4 * d_model))
        self.mlp.add_module("act", nn.GELU(approximate="tanh"))
        self.mlp.add_module("proj", nn.Linear(4 * d_model, d_model))
        self.mlp.add_module("drop", nn.Dropout(dropout))
        ### END SOLUTION

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        """x: (N, T, D) -> (N, T, D) [and the attention weights (N, h, T, T)]."""
        ### BEGIN SOLUTION
        # HINT: pre-norm: normalise the input of each branch, add the branch to the raw x.
        a, weights = self.attn(self.ln1(x), return_weights=True)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        ### END SOLUTION
        return (x, weights) if return_weights else x


class TransformerLM(nn.Module):
    """Token and position embeddings -> dropout -> L blocks -> final LayerNorm -> decoder.

    Attributes: embedding (nn.Embedding(V, D)), position (nn.Embedding(C, D)), dropout,
    blocks (nn.ModuleList of L Block), ln_f (nn.LayerNorm(D)), decoder (nn.Linear(D, V));
    with ``tie_weights`` decoder.weight IS embedding.weight. ``block_size`` is C.
    """

    def __init__(self, vocab_size: int, d_model: int = 128, n_heads: int = 4,
                 n_layers: int = 2, block_size: int = 64, dropout: float = 0.0,
                 tie_weights: bool = True):
        super().__init__()
        self.vocab_size, self.block_size, self.n_layers = vocab_size, block_size, n_layers
        ### BEGIN SOLUTION
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(block_size, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.decoder = nn.Linear(d_model, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        ### END SOLUTION

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                return_weights: bool = False):
        """Logits of the next token at every position of ``inputs``, given the context before.

        Inputs:
        - inputs: (N, T) int64 ids, T <= C
        - state: (N, M) int64 ids that precede ``inputs`` (None or M = 0: no context); only
          the last C - T of them are read
        - return_weights: also return each block's attention weights

        Returns a tuple of:
        - logits: (N, T, V)
        - state: (N, min(M + T, C - 1)) the last C - 1 ids of state + inputs (the context
          of the next call)
        - (only with return_weights) a list of L tensors (N, h, T', T'), T' = the tokens read

        Positions are 0 .. T'-1 within the window read: ``position`` is added to the token
        embeddings once, before the first block.
        """
        T = inputs.shape[1]
        if T > self.block_size:
            raise ValueError(f"{T} inputs do not fit a context of block_size={self.block_size}; "
                             "read them in chunks (the state carries the context)")
        ### BEGIN SOLUTION
        # HINT: the window is the state followed by the inputs, cut to its last C ids; only the
        # HINT: inputs' positions are predicted, and the next state comes from the same window.
        ctx = inputs if state is None or state.shape[1] == 0 else torch.cat([state, inputs], 1)
        ctx = ctx[:, -self.block_size:]
        pos = torch.arange(ctx.shape[1], device=inputs.device)
        x = self.dropout(self.embedding(ctx) + self.position(pos))
        all_weights = []
        for block in self.blocks:
            x, w = block(x, return_weights=True)
            all_weights.append(w)
        logits = self.decoder(self.ln_f(x[:, -T:]))
        new_state = ctx[:, -(self.block_size - 1):] if self.block_size > 1 else ctx[:, :0]
        ### END SOLUTION
        if return_weights:
            return logits, new_state, all_weights
        return logits, new_state


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters, a tied weight counted once (provided)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
