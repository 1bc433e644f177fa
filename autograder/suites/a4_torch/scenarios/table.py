"""Scenarios of a4_torch: table.py."""
from __future__ import annotations

import numpy as np
from lmcore.lm import UniformLM
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F
from autograder.suites.a4_torch.scenarios.common import _setup


# -- table.py ------------------------------------------------------------------------------
class _UnigramLM(UniformLM):
    """Add-one unigram model of the training sentences."""

    def __init__(self, vocab: Vocab, sentences):
        super().__init__(vocab)
        counts = np.ones(len(vocab))
        for s in sentences:
            for i in vocab.encode(s) + [vocab.eos_id]:
                counts[i] += 1
        counts[vocab.bos_id] = 0.0
        self.p = counts / counts.sum()

    def next_distribution(self, context):
        return self.p.copy()

    def logprobs(self, sentences):
        return np.log(np.array([self.p[i] for s in sentences
                                for i in self.vocab.encode(s) + [self.vocab.eos_id]]))


def table_case(sub, rng, corpus="farm", held_out=3):
    """perplexity_table for two simple models on held-out sentences."""
    _setup(rng)
    sentences = F.sentences(corpus)
    order = rng.permutation(len(sentences))
    train = [sentences[i] for i in order[held_out:]]
    test = [sentences[i] for i in order[:held_out]]
    vocab = Vocab.build(train, min_count=1)
    models = {"uniform": UniformLM(vocab), "unigram": _UnigramLM(vocab, train)}
    rows = sub.table.perplexity_table(models, test)
    return [dict(r) if isinstance(r, dict) else r for r in rows]
