"""The recurrent language models of a3, rebuilt from torch's layers.

Letters: minibatch N, sequence T, embedding E, hidden H, layers L, vocabulary V (``<s>``
included: it is an input, but it is never predicted, so it gets probability 0 everywhere).

Both models have the same ``forward(inputs, state) -> (logits, state)``: one training loop,
one evaluation and one sampler serve them (makemore's lesson). ``TorchLM`` wraps either one
as an ``lmcore.lm.LanguageModel`` so that ``lmcore.lm.perplexity`` measures it on exactly the
tokens it measures the n-gram, window and numpy RNN models on.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmcore.batching import IGNORE, bptt_batches, n_predicted, stream
from lmcore.vocab import Vocab

BOS_ID = Vocab.bos_id


def init_weights(model: nn.Module, generator: torch.Generator, scale: float = 0.1) -> nn.Module:
    """Draw every parameter of ``model`` from U(-scale, scale) with ``generator`` (provided).

    torch's default initialisation reads the global random state; this one makes a model a
    function of its seed. A tied weight is one parameter, so it is drawn once.
    """
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-scale, scale, generator=generator)
    return model


class RNNLM(nn.Module):
    """Embedding -> dropout -> L-layer tanh RNN -> dropout -> linear decoder to V logits.

    Attributes (the names are part of the contract: weights are loaded by name):
    - embedding: nn.Embedding(V, E)
    - rnn: nn.RNN(E, H, num_layers=L, nonlinearity="tanh", batch_first=True), with dropout
      between its layers when L > 1
    - dropout: nn.Dropout(dropout), applied to the embeddings and to the RNN's outputs
    - decoder: nn.Linear(H, V); with ``tie_weights`` its weight IS ``embedding.weight``
      (Press & Wolf, 2017), which needs E == H
    """

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden_dim: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        self.vocab_size, self.hidden_dim, self.num_layers = vocab_size, hidden_dim, num_layers
        ### BEGIN SOLUTION
        # HINT: nn.RNN's own dropout acts between layers only; pass it only when num_layers > 1.
        # HINT: tying means one Parameter shared by both layers, not a copy of its values.
        if tie_weights and emb_dim != hidden_dim:
            raise ValueError(f"tie_weights needs emb_dim == hidden_dim, got {emb_dim} and "
                             f"{hidden_dim}")
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.RNN(emb_dim, hidden_dim, num_layers=num_layers, nonlinearity="tanh",
                          batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden_dim, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        ### END SOLUTION

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None):
        """Logits of the next token at every position, and the state after the last one.

        Inputs:
        - inputs: (N, T) int64 token ids
        - state: (L, N, H) hidden state to start from, or None for zeros

        Returns a tuple of:
        - logits: (N, T, V) unnormalised scores (``<s>`` included; the loss masks it)
        - state: (L, N, H) the hidden state after step T (attached to the graph: the
          training loop decides when to detach it)
        """
        ### BEGIN SOLUTION
        x = self.dropout(self.embedding(inputs))
        out, state = self.rnn(x, state)
        return self.decoder(self.dropout(out)), state
        ### END SOLUTION


class LSTMLM(nn.Module):
    """Embedding -> dropout -> L-layer LSTM -> dropout -> linear decoder to V logits.

    The same as ``RNNLM`` with ``rnn = nn.LSTM(E, H, num_layers=L, batch_first=True)``; its
    state is the pair ``(h, c)``. torch orders the gate blocks of ``weight_ih_l0`` as
    (i, f, g, o); a3's ``lstm_to_torch`` converts from the lecture's (i, f, o, g).
    """

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden_dim: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        self.vocab_size, self.hidden_dim, self.num_layers = vocab_size, hidden_dim, num_layers
        ### BEGIN SOLUTION
        # HINT: the same four layers as RNNLM, with nn.LSTM in place of nn.RNN.
        if tie_weights and emb_dim != hidden_dim:
            raise ValueError(f"tie_weights needs emb_dim == hidden_dim, got {emb_dim} and "
                             f"{hidden_dim}")
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(emb_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden_dim, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        ### END SOLUTION

    def forward(self, inputs: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Logits of the next token at every position, and the state after the last one.

        Inputs:
        - inputs: (N, T) int64 token ids
        - state: a pair (h, c), each (L, N, H), or None for zeros

        Returns a tuple of:
        - logits: (N, T, V)
        - state: the pair (h, c) after step T, each (L, N, H)
        """
        ### BEGIN SOLUTION
        x = self.dropout(self.embedding(inputs))
        out, state = self.rnn(x, state)
        return self.decoder(self.dropout(out)), state
        ### END SOLUTION


def prediction_log_softmax(logits: torch.Tensor, bos_id: int = BOS_ID) -> torch.Tensor:
    """Log-probabilities over the prediction space: ``<s>`` gets -inf, the rest sum to one.

    Inputs:
    - logits: (..., V) scores
    - bos_id: the id of ``<s>``

    Returns:
    - logp: (..., V), ``logp[..., bos_id] == -inf`` and ``logp.exp().sum(-1) == 1``
    """
    ### BEGIN SOLUTION
    # HINT: masked_fill (out of place) a -inf into the <s> column, then F.log_softmax.
    mask = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    mask[bos_id] = True
    return F.log_softmax(logits.masked_fill(mask, float("-inf")), dim=-1)
    ### END SOLUTION


def sentence_batch(sentences: Sequence[Sequence[str]], vocab: Vocab):
    """Teacher-forcing inputs and targets for reading sentences each on its own, from ``<s>``
    (``TorchLM.next_distribution`` reads its context this way; a stream is read instead by
    ``lmcore.batching.bptt_batches``).

    Sentence k, padded as ``<s> w_1 .. w_n </s>``, gives the inputs ``<s> w_1 .. w_n`` and
    the targets ``w_1 .. w_n </s>`` (the inputs shifted by one): its n + 1 predicted tokens.
    Rows shorter than the longest are padded with 0 in x and ``IGNORE`` in y.
    Out-of-vocabulary tokens become ``<unk>``.

    Inputs:
    - sentences: N lists of tokens (raw, no padding)
    - vocab: Vocab

    Returns a tuple of:
    - x: (N, W) int64 input ids, W = the longest sentence's length + 1
    - y: (N, W) int64 target ids, ``IGNORE`` after each sentence's ``</s>``
    """
    ### BEGIN SOLUTION
    # HINT: vocab.encode_padded(sentence) gives [<s>, w_1, .., w_n, </s>].
    rows = [vocab.encode_padded(s) for s in sentences]
    W = max((len(r) - 1 for r in rows), default=0)
    x = np.zeros((len(rows), W), dtype=np.int64)
    y = np.full((len(rows), W), IGNORE, dtype=np.int64)
    for r, row in enumerate(rows):
        x[r, :len(row) - 1] = row[:-1]
        y[r, :len(row) - 1] = row[1:]
    return torch.from_numpy(x), torch.from_numpy(y)
    ### END SOLUTION


class TorchLM:
    """Any model with ``forward(inputs, state) -> (logits, state)`` as an
    ``lmcore.lm.LanguageModel`` (``logprobs`` provided; ``next_distribution`` is yours).

    ``logprobs`` reads the sentences as ONE stream, exactly as training reads text
    (``lmcore.batching.stream``: ``<s>`` once at the very start, never predicted, then each
    sentence's ids and its ``</s>``), the state carried across sentence boundaries. Training
    and evaluation then see the same kind of context: a model trained on a stream has never
    started a sentence from a zero state, and scoring it that way costs a lot (a factor of
    about 4 in perplexity for a3's vanilla RNN). The predicted tokens are exactly those of
    the n-gram and window models (each word and each ``</s>`` once, ``<s>`` never), so
    ``lmcore.lm.perplexity`` compares them all; each model uses the context it can.

    ``next_distribution`` (generation: ``lmcore.lm.generate`` calls it after every drawn
    token) reads one sentence on its own, from the zero state after ``<s>``: the first
    sentence of a stream.
    """

    def __init__(self, model: nn.Module, vocab: Vocab, device: str | torch.device = "cpu",
                 chunk: int = 256):
        self.model, self.vocab, self.chunk = model, vocab, chunk
        self.device = torch.device(device)

    @torch.no_grad()
    def logprobs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """ln p of each sentence's words and its ``</s>``, in order: (sum(len(s) + 1),),
        the sentences read as one stream, ``self.chunk`` steps at a time."""
        self.model.eval()
        ids = stream(sentences, self.vocab)
        out = np.zeros(n_predicted(ids))
        if len(out) == 0:
            return out
        state, k = None, 0
        for x, y in bptt_batches(ids, 1, self.chunk):   # one row: the state runs through it all
            x = torch.from_numpy(x).to(self.device)
            y = torch.from_numpy(y).to(self.device)
            logits, state = self.model(x, state)
            logp = prediction_log_softmax(logits[0].double(), self.vocab.bos_id)   # (T', V)
            picked = logp.gather(1, y[0].unsqueeze(1)).squeeze(1)
            out[k:k + len(picked)] = picked.cpu().numpy()
            k += len(picked)
        return out

    @torch.no_grad()
    def next_distribution(self, context: Sequence[str]) -> np.ndarray:
        """(V,) probabilities of the token after ``<s> + context`` from the zero state;
        0 at ``<s>``. ``lmcore.lm.generate`` draws every token of a sentence from it.

        The model may come in training mode (as ``train_epoch`` leaves it): generation runs
        in evaluation mode, dropout off, so that one context always gives one distribution.
        ``<s> + context`` is read ``self.chunk`` steps at a time, the state carried (as in
        ``logprobs``), so that a model with a bounded context (a5's transformer) reads a
        context of any length.

        Inputs:
        - context: list of str, the tokens so far (may be empty; OOV words as ``<unk>``)

        Returns:
        - p: (V,) float64 numpy array that sums to one, 0 at ``<s>``
        """
        ### BEGIN SOLUTION
        # HINT: which mode must a model with dropout be in while it generates? Then read
        # HINT: <s> + context (sentence_batch gives these inputs) from state None, chunk by
        # HINT: chunk, and take the prediction-space log-softmax of the LAST position.
        self.model.eval()
        x, _ = sentence_batch([context], self.vocab)   # (1, W): <s> + context
        x, state = x.to(self.device), None
        for start in range(0, x.shape[1], self.chunk):
            logits, state = self.model(x[:, start:start + self.chunk], state)
        p = prediction_log_softmax(logits[0, -1].double(), self.vocab.bos_id).exp()
        p = p.cpu().numpy()
        ### END SOLUTION
        return p
