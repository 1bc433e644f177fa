"""Assignment 1: n-gram language models (reference solution).

Two graded parts with one interface:

1. Counting with dicts (``dict_models``): the n-gram counts of padded sentences and the MLE,
   add-k and interpolated Kneser-Ney estimates, in plain Python on the small corpora (it
   uses ``pad`` and ``ngrams`` from ``counts``, written first).
2. The vectorised version for the real splits: ``counts`` (padding, n-gram extraction,
   counting, the sparsity and storage measurements) and ``models`` (MLE, add-k,
   interpolation, backoff, stupid backoff, Kneser-Ney, perplexity).

``base`` is provided: the n-gram index, the counts container and the model base class that
implements lmcore's ``LanguageModel`` interface. Sampling is lmcore's, the one sampler of the
course: ``lmcore.lm.generate(model, rng)`` draws from any model's ``next_distribution``.

Modules are imported on use (``from a1_ngram.models import KneserNey``) so that an error in
one graded file costs only the tests that use it.
"""
