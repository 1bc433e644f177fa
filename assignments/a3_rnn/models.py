"""A recurrent language model in numpy: the RNN (or LSTM) of the lecture, trained by teacher
forcing with truncated backpropagation through time, sampled free-running (by
``lmcore.lm.generate``, which feeds each drawn token back through ``next_distribution``).

Letters: minibatch (rows) N, chunk length T, embedding D, hidden H, vocabulary V (``<s>`` included;
it is an input but never predicted, so its score is fixed at -inf and it gets probability 0).

The model implements lmcore.lm.LanguageModel (``vocab``, ``logprobs``, ``next_distribution``),
so ``lmcore.lm.perplexity`` and ``lmcore.lm.generate`` serve it as they serve the n-gram models.
``logprobs`` reads the sentences as one stream, the way training reads them (the state carried
across sentences); generation starts each sentence from the zero state.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lmcore.batching import IGNORE, bptt_batches, n_predicted, stream
from lmcore.vocab import Vocab

from .clipping import clip_grad_norm, first_nonfinite
from .lstm_layers import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .rnn_layers import (rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward,
                         temporal_affine_backward, temporal_affine_forward,
                         temporal_softmax_loss, word_embedding_backward, word_embedding_forward)


class LMState(NamedTuple):
    """The recurrent state carried from one chunk to the next (values only, never gradients)."""
    h: np.ndarray                 # (N, H)
    c: np.ndarray | None = None   # (N, H) for the LSTM, None for the RNN


class RNNLM:
    """Embedding -> RNN or LSTM -> affine -> softmax over the vocabulary (``<s>`` excluded).

    Parameters (``self.params``, float arrays):
    - W_embed: (V, D);  Wx: (D, H) or (D, 4H);  Wh: (H, H) or (H, 4H);  b: (H,) or (4H,)
    - W_vocab: (H, V);  b_vocab: (V,)
    LSTM gate blocks are in the order (i, f, o, g) (see lstm_layers).
    """

    def __init__(self, vocab: Vocab, rng: np.random.Generator, D: int = 32, H: int = 64,
                 cell: str = "rnn", dtype=np.float64):
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
        self.vocab, self.cell, self.D, self.H, self.dtype = vocab, cell, D, H, np.dtype(dtype)
        V, G = len(vocab), (4 * H if cell == "lstm" else H)
        # Scaled so that pre-activations start with unit variance: neither saturated nor dead.
        self.params = {
            "W_embed": rng.standard_normal((V, D)) / 10,
            "Wx": rng.standard_normal((D, G)) / math.sqrt(D),
            "Wh": rng.standard_normal((H, G)) / math.sqrt(H),
            "b": np.zeros(G),
            "W_vocab": rng.standard_normal((H, V)) / math.sqrt(H),
            "b_vocab": np.zeros(V),
        }
        if cell == "lstm":
            self.params["b"][H:2 * H] = 1.0   # forget gates start open: remember by default
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}

    # -- provided helpers ---------------------------------------------------------------------
    @property
    def never(self) -> np.ndarray:
        """(V,) added to every score: 0, and -inf at ``<s>`` (never predicted)."""
        out = np.zeros(len(self.vocab), dtype=self.dtype)
        out[self.vocab.bos_id] = -np.inf
        return out

    @property
    def start_id(self) -> int:
        """The input that starts a generated sentence (``next_distribution``):
        ``</s>``, not ``<s>``.

        In the training stream (lmcore.batching.stream) every sentence but the first follows
        the previous sentence's ``</s>``, and ``<s>`` occurs once, at the very start, so its
        embedding is barely trained; a sentence generated after ``</s>`` starts the way
        sentences start in training. (``logprobs`` reads the stream itself, ``<s>`` included.)
        """
        return self.vocab.eos_id

    def initial_state(self, N: int) -> LMState:
        zeros = np.zeros((N, self.H), dtype=self.dtype)
        return LMState(zeros, zeros.copy() if self.cell == "lstm" else None)

    def recurrent_forward(self, emb, state: LMState):
        """(N, T, D) embeddings -> hidden states (N, T, H), the final LMState, and a cache."""
        p = self.params
        if self.cell == "lstm":
            h, c, cache = lstm_forward(emb, state.h, p["Wx"], p["Wh"], p["b"], state.c)
            return h, LMState(h[:, -1].copy(), c.copy()), cache
        h, cache = rnn_forward(emb, state.h, p["Wx"], p["Wh"], p["b"])
        return h, LMState(h[:, -1].copy()), cache

    def recurrent_backward(self, dh, cache):
        """Gradients (dx, dWx, dWh, db) of the recurrent layer; the initial state gets none
        that leaves this chunk (truncated BPTT)."""
        if self.cell == "lstm":
            dx, _, _, dWx, dWh, db = lstm_backward(dh, cache)
        else:
            dx, _, dWx, dWh, db = rnn_backward(dh, cache)
        return dx, dWx, dWh, db

    def scores(self, x, state: LMState | None = None):
        """Scores (N, T, V) for input ids x (N, T) from ``state`` (zeros if None), and the
        final state. No caches kept beyond this call."""
        state = self.initial_state(x.shape[0]) if state is None else state
        emb, _ = word_embedding_forward(x, self.params["W_embed"])
        h, state, _ = self.recurrent_forward(emb, state)
        s, _ = temporal_affine_forward(h, self.params["W_vocab"], self.params["b_vocab"])
        return s + self.never, state

    # -- teacher forcing --------------------------------------------------------------------
    def loss_chunk(self, x, y, state: LMState | None = None):
        """Loss and gradients of one chunk, inputs given (teacher forcing).

        Inputs:
        - x: (N, T) int input ids: the true previous tokens, never the model's predictions
        - y: (N, T) int target ids; y[:, t] is the token after x[:, t]. Positions where y is
          lmcore.batching.IGNORE (padding) or <s> predict nothing and are masked out.
        - state: LMState the chunk starts from (the end of the previous chunk), or None for zeros

        Returns a tuple of:
        - loss: float, mean cross-entropy over the unmasked targets
        - grads: dict {name: array}, same names and shapes as self.params
        - state: LMState at the end of the chunk (values only: gradients never cross chunks)
        """
        state = self.initial_state(x.shape[0]) if state is None else state
        p = self.params
        # Hint: which targets are predicted? Padding and <s> are not (the course's conventions),
        # Hint: and a negative id cannot index an array. Chain the layers you wrote, then their
        # Hint: backwards in the reverse order.
        raise NotImplementedError("RNNLM.loss_chunk: write this part")
        return loss, grads, state

    def loss(self, tokens, state: LMState | None = None):
        """Teacher forcing on whole sequences: inputs tokens[:, :-1], targets tokens[:, 1:].

        Inputs:
        - tokens: (N, T + 1) int ids, e.g. each row <s> w1 ... wk </s> (then IGNORE padding)
        - state: LMState or None

        Returns (loss, grads, state) as loss_chunk.
        """
        tokens = np.asarray(tokens)
        x = np.where(tokens[:, :-1] == IGNORE, 0, tokens[:, :-1])
        return self.loss_chunk(x, tokens[:, 1:], state)

    # -- one step at a time (provided) --------------------------------------------------------
    def step(self, ids, state: LMState):
        """One step: (N,) input ids -> next-token probabilities (N, V) and the next state."""
        p = self.params
        e = p["W_embed"][ids]
        if self.cell == "lstm":
            h, c, _ = lstm_step_forward(e, state.h, state.c, p["Wx"], p["Wh"], p["b"])
            state = LMState(h, c)
        else:
            h, _ = rnn_step_forward(e, state.h, p["Wx"], p["Wh"], p["b"])
            state = LMState(h)
        s = h @ p["W_vocab"] + p["b_vocab"] + self.never
        e_s = np.exp(s - s.max(axis=1, keepdims=True))
        return e_s / e_s.sum(axis=1, keepdims=True), state

    # -- lmcore.lm.LanguageModel ---------------------------------------------------------------
    def next_distribution(self, context):
        """LanguageModel.next_distribution: p(next token | the sentence so far), read on its
        own: from the zero state, the input self.start_id, then the context's ids (OOV words as
        <unk>). ``lmcore.lm.generate`` calls it after every drawn token, so the sentence it
        samples is free-running: the model reads its own samples. (``logprobs`` instead reads a
        whole list of sentences as one stream, so its values for a sentence after the first
        differ.)

        Inputs:
        - context: list of str, the tokens so far (may be empty)

        Returns:
        - p: (V,) float64 probabilities, 0 at <s>, sums to one
        """
        p = None
        # Hint: one pass of the model over [start_id, *ids of the context] (self.scores), then
        # Hint: a softmax of the LAST position's scores; the scores already hold -inf at <s>.
        raise NotImplementedError("RNNLM.next_distribution: write this part")
        return p

    def logprobs(self, sentences, chunk: int = 256):
        """ln p of every predicted token: each sentence's words and its </s>, in order.

        The sentences are read as ONE stream, exactly as training reads text
        (``lmcore.batching.stream``: ``<s>`` once at the very start, never predicted, then
        each sentence's ids and its ``</s>``), from the zero state, the hidden state carried
        across sentence boundaries, ``chunk`` steps at a time. Training and evaluation then
        see the same kind of context; scoring each sentence from a fresh zero state instead
        puts the model in states it never met in training (a vanilla RNN trained for two
        minutes: validation perplexity 164 read as a stream, 665 sentence by sentence from
        ``<s>``). The predicted tokens are exactly the n-gram models' (the course's convention,
        docs/conventions.md), so the
        perplexities compare; each model uses the context it can.

        Returns (sum(len(s) + 1),) float64.
        """
        ids = stream(sentences, self.vocab)
        out = np.zeros(n_predicted(ids))
        if len(out) == 0:
            return out
        state, k = None, 0
        for x, y in bptt_batches(ids, 1, chunk):   # one row: the state runs through it all
            s, state = self.scores(x, state)
            s = s[0].astype(np.float64)            # (T', V)
            top = s.max(axis=1, keepdims=True)
            log_z = top[:, 0] + np.log(np.exp(s - top).sum(axis=1))
            out[k:k + s.shape[0]] = s[np.arange(s.shape[0]), y[0]] - log_z
            k += s.shape[0]
        return out


# -- truncated BPTT over a stream -------------------------------------------------------------
def truncated_bptt(model: RNNLM, ids, N: int, T: int):
    """Loss and gradients of each chunk of a stream, in order (truncated BPTT).

    The stream is cut by ``lmcore.batching.bptt_batches(ids, N, T)``. Each chunk starts from
    the state the previous chunk ended in (row r continues row r), so the model reads the text
    as one long sequence; but each chunk's gradients come from that chunk alone (nothing is
    backpropagated into, or accumulated from, earlier chunks). The first chunk starts from zeros.

    Inputs:
    - model: RNNLM
    - ids: (S,) int id stream from lmcore.batching.stream
    - N: rows, T: chunk length

    Yields, for each chunk, a tuple of:
    - loss: float, the chunk's mean cross-entropy
    - grads: dict {name: array}, the gradients of that loss alone
    """
    # Hint: keep the state returned by model.loss_chunk and pass it to the next call.
    raise NotImplementedError("truncated_bptt: write this part")


# -- the vanishing / exploding gradient measurement -------------------------------------------
def grad_norm_vs_distance(model: RNNLM, tokens):
    """How the gradient of the last step's loss fades (or grows) as it goes back in time.

    Run the model from the zero state on inputs tokens[:, :-1] (N, T); the loss L_T is the
    mean cross-entropy of the LAST prediction only (target tokens[:, -1]). Backpropagate it
    step by step and record the Frobenius norm over the batch of dL_T/dh_t for t = T..1.

    Inputs:
    - model: RNNLM (rnn or lstm)
    - tokens: (N, T + 1) int ids

    Returns:
    - norms: (T,) float64; norms[d] = ||dL_T / dh_{T-d}||, d = T - t the distance in steps
      (norms[0] is the last hidden state's)
    """
    p = model.params
    tokens = np.asarray(tokens)
    x, target = tokens[:, :-1], tokens[:, -1:]
    N, T = x.shape
    norms = None
    # Hint: forward with the *_step_forward functions, keeping every cache; the gradient enters
    # Hint: only at the last step; then walk back with *_step_backward, recording norms.
    raise NotImplementedError("grad_norm_vs_distance: write this part")
    return norms


# -- training (provided) ------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """One training run; ``batch_size``, ``bptt``, ``clip``, ``lr``, ``time_budget`` and ``seed``
    mean what they mean in a2's and a4's TrainConfig."""
    batch_size: int = 32      # N rows of the stream read in parallel
    bptt: int = 32            # T steps per chunk: steps of backpropagation
    optimizer: str = "adam"   # "adam" or "sgd" (plain SGD shows clipping's effect best)
    lr: float = 3e-3          # step size
    clip: float | None = 5.0  # max global gradient norm (None: no clipping)
    max_steps: int | None = None      # stop after this many chunks...
    time_budget: float | None = None  # ...or after this many seconds (whichever comes first)
    epochs: int = 1
    seed: int = 0             # the offsets at which epochs after the first start reading


@dataclass
class History:
    loss: list = field(default_factory=list)        # per chunk
    grad_norm: list = field(default_factory=list)   # per chunk, before clipping
    seconds: float = 0.0
    diverged_at: int | None = None                  # first non-finite step, if any


def train(model: RNNLM, ids, config: TrainConfig) -> History:
    """Adam (or SGD) on the chunks of truncated_bptt, clipping by global norm when config.clip
    is set. The first epoch reads the stream from its start; each later one from an offset in
    [0, bptt) drawn from ``np.random.default_rng(config.seed)``, so that chunk boundaries move
    from epoch to epoch. Stops at the first non-finite loss or gradient (reported in
    History.diverged_at)."""
    history = History()
    m = {k: np.zeros_like(v) for k, v in model.params.items()}
    v = {k: np.zeros_like(w) for k, w in model.params.items()}
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    ids = np.asarray(ids)
    for epoch in range(config.epochs):
        offset = int(rng.integers(config.bptt)) if epoch > 0 and len(ids) > 2 * config.bptt else 0
        for loss, grads in truncated_bptt(model, ids[offset:], config.batch_size, config.bptt):
            if config.clip is not None:
                grads, norm = clip_grad_norm(grads, config.clip)
            else:
                _, norm = clip_grad_norm(grads, math.inf)
            history.loss.append(loss)
            history.grad_norm.append(norm)
            bad = first_nonfinite(history.loss[-1:], history.grad_norm[-1:])
            if bad is not None:
                history.diverged_at = len(history.loss) - 1
                break
            step += 1
            for k, w in model.params.items():
                g = grads[k]
                if config.optimizer == "sgd":
                    model.params[k] = w - config.lr * g
                    continue
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v[k] = beta2 * v[k] + (1 - beta2) * g * g
                m_hat = m[k] / (1 - beta1 ** step)
                v_hat = v[k] / (1 - beta2 ** step)
                model.params[k] = w - config.lr * m_hat / (np.sqrt(v_hat) + eps)
            elapsed = time.perf_counter() - start
            if ((config.max_steps is not None and step >= config.max_steps)
                    or (config.time_budget is not None and elapsed >= config.time_budget)):
                break
        else:
            continue
        break
    history.seconds = time.perf_counter() - start
    return history
