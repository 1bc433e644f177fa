"""lmcore: the shared library of the course, used by every assignment (never graded).

Modules (import the one you need; this package imports nothing itself):
- ``lmcore.corpus``    Shakespeare's plays (fixed train/valid/test splits) and plain-text corpora;
                       ``python -m lmcore.corpus`` prints the corpus card
- ``lmcore.vocab``     ``Vocab``: ids of ``<unk>``, ``<s>``, ``</s>`` and the words; the prediction space
- ``lmcore.batching``  id streams and truncated-BPTT batches (RNNs), window pairs (window LM)
- ``lmcore.lm``        the ``LanguageModel`` interface every model implements; ``perplexity``, ``generate``
                       (the one sampler: temperature, top-k) and ``sampling_distribution``
- ``lmcore.metrics``   cross-entropy, bits per token and perplexity from log-probabilities
- ``lmcore.gradcheck`` numerical gradients, ``rel_error`` and reports naming the worst entry
- ``lmcore.plotting``  curves and bar charts saved as PNG
"""
