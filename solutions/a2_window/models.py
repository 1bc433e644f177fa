"""The fixed-window neural language model of Bengio et al. (2003), in numpy.

To predict word t the model looks at the C = n-1 words before it (padded with <s> at the start
of a sentence), embeds each with a shared table, concatenates the C embeddings, passes them
through a tanh hidden layer and scores every vocabulary word with a second affine layer:

    e = concat(W_emb[w_{t-C}], ..., W_emb[w_{t-1}])        (N, C*D)
    h = tanh(e @ W1 + b1)                                   (N, H)
    p(w_t | window) = softmax(h @ W2 + b2) over the prediction space

<s> is a context-only token and is never predicted: its logit is masked out of the softmax
(probability exactly 0), so the distribution over the prediction space (every id but <s>) sums
to one and perplexities compare with a1's n-gram models on the same tokens (</s> and <unk>
predicted, <s> not).

Letters: minibatch N (windows), context length C, vocabulary V, embedding D, hidden H.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmcore.batching import window_pairs
from lmcore.vocab import Vocab

from .layers import (affine_backward, affine_forward, concat_backward, concat_forward,
                     embedding_backward, embedding_forward, log_softmax,
                     softmax_loss_backward, softmax_loss_forward, tanh_backward, tanh_forward)

PARAM_NAMES = ("W_emb", "W1", "b1", "W2", "b2")


class WindowLM:
    """Bengio-style window LM; implements lmcore.lm.LanguageModel, so that
    ``lmcore.lm.perplexity(model, sentences)`` and ``lmcore.lm.generate(model, rng)`` serve it
    as they serve the n-gram models.

    Attributes:
    - vocab: lmcore.vocab.Vocab
    - n_context: C, the number of previous words the model sees (an n-gram order of C + 1)
    - params: dict of float64 arrays
        W_emb (V, D), W1 (C*D, H), b1 (H,), W2 (H, V), b2 (V,)
    - mask: (V,) bool, False at <s> only: the classes the softmax may predict
    """

    def __init__(self, vocab: Vocab, rng: np.random.Generator, n_context: int = 3,
                 d_embed: int = 32, d_hidden: int = 128):
        if n_context < 1:
            raise ValueError(f"n_context must be >= 1, got {n_context}")
        self.vocab = vocab
        self.n_context = n_context
        V, C, D, H = len(vocab), n_context, d_embed, d_hidden
        # Scaled so that the pre-activations start with unit-order variance and tanh is not
        # saturated; W2 starts small so the first predictions are close to uniform.
        self.params = {
            "W_emb": rng.standard_normal((V, D)),
            "W1": rng.standard_normal((C * D, H)) / np.sqrt(C * D),
            "b1": np.zeros(H),
            "W2": rng.standard_normal((H, V)) * 0.1 / np.sqrt(H),
            "b2": np.zeros(V),
        }
        self.mask = np.ones(V, dtype=bool)
        self.mask[vocab.bos_id] = False

    # -- training objective ------------------------------------------------------------------
    def loss(self, contexts, targets):
        """Mean cross-entropy of the targets given their windows, and its gradients.

        Inputs:
        - contexts: (N, C) int word ids, oldest first (lmcore.batching.window_pairs)
        - targets: (N,) int word ids, never <s>

        Returns a tuple of:
        - loss: float, -(1/N) * sum_i ln p(targets[i] | contexts[i])
        - grads: dict with the same keys and shapes as self.params, the gradient of loss
        """
        p = self.params
        ### BEGIN SOLUTION
        # HINT: chain the layers' forwards (embedding, concat, affine, tanh, affine, softmax loss),
        # HINT: then their backwards in the reverse order, keeping each cache.
        emb, emb_cache = embedding_forward(contexts, p["W_emb"])
        x, cat_cache = concat_forward(emb)
        a, fc1_cache = affine_forward(x, p["W1"], p["b1"])
        h, tanh_cache = tanh_forward(a)
        scores, fc2_cache = affine_forward(h, p["W2"], p["b2"])
        loss, sm_cache = softmax_loss_forward(scores, targets, self.mask)

        grads = {}
        dscores = softmax_loss_backward(1.0, sm_cache)
        dh, grads["W2"], grads["b2"] = affine_backward(dscores, fc2_cache)
        da = tanh_backward(dh, tanh_cache)
        dx, grads["W1"], grads["b1"] = affine_backward(da, fc1_cache)
        demb = concat_backward(dx, cat_cache)
        grads["W_emb"] = embedding_backward(demb, emb_cache)
        ### END SOLUTION
        return loss, grads

    # -- probabilities -------------------------------------------------------------------------
    def window_log_probs(self, contexts):
        """ln p(w | window) for every word of the vocabulary, for a batch of windows (the
        sentence-level ``logprobs`` and ``next_distribution`` are built on it).

        Inputs:
        - contexts: (N, C) int word ids

        Returns:
        - logp: (N, V) float64; -inf at <s>; exp(logp[i]) sums to one
        """
        p = self.params
        ### BEGIN SOLUTION
        emb, _ = embedding_forward(contexts, p["W_emb"])
        x, _ = concat_forward(emb)
        a, _ = affine_forward(x, p["W1"], p["b1"])
        h, _ = tanh_forward(a)
        scores, _ = affine_forward(h, p["W2"], p["b2"])
        logp = log_softmax(scores, self.mask)
        ### END SOLUTION
        return logp

    def windows(self, sentences: Sequence[Sequence[str]]):
        """(contexts (M, C), targets (M,)) of ``sentences``: lmcore.batching.window_pairs with
        this model's vocabulary and context length. M = sum(len(s) + 1)."""
        return window_pairs(sentences, self.vocab, self.n_context)

    def logprobs(self, sentences: Sequence[Sequence[str]], batch_size: int = 1024) -> np.ndarray:
        """LanguageModel.logprobs: ln p of every predicted token, sentence by sentence.

        Inputs:
        - sentences: list of token lists (raw tokens; OOV words count as <unk>)
        - batch_size: windows scored at a time, so that memory stays at (batch_size, V)

        Returns:
        - lp: (M,) float64, M = sum(len(s) + 1): each sentence's words, then its </s>
        """
        ### BEGIN SOLUTION
        # HINT: self.windows(sentences) gives every (window, target) pair in order.
        contexts, targets = self.windows(sentences)
        lp = np.empty(len(targets), dtype=np.float64)
        for start in range(0, len(targets), batch_size):
            stop = start + batch_size
            logp = self.window_log_probs(contexts[start:stop])
            lp[start:stop] = logp[np.arange(len(logp)), targets[start:stop]]
        ### END SOLUTION
        return lp

    def next_distribution(self, context: Sequence[str]) -> np.ndarray:
        """LanguageModel.next_distribution: p(next word | the sentence so far).

        Inputs:
        - context: the tokens of the sentence so far (no padding, may be empty, may be longer
          than C, OOV words count as <unk>)

        Returns:
        - p: (V,) float64 over vocabulary ids, 0 at <s>, sums to one
        """
        ### BEGIN SOLUTION
        # HINT: pad with C <s> on the left, keep the last C ids.
        C = self.n_context
        ids = [self.vocab.bos_id] * C + self.vocab.encode(context)
        window = np.array(ids[len(ids) - C:], dtype=np.int64)[None, :]
        p = np.exp(self.window_log_probs(window)[0])
        ### END SOLUTION
        return p
