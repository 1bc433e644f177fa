"""Assignment 1: n-gram language models (reference solution).

Graded modules: ``counts`` (padding, n-gram extraction, counting, the sparsity and storage
measurements) and ``models`` (MLE, add-k, interpolation, backoff, stupid backoff,
Kneser-Ney, perplexity, sampling). ``base`` is provided: the n-gram index, the counts
container and the model base class that implements lmcore's ``LanguageModel`` interface.

Modules are imported on use (``from a1_ngram.models import KneserNey``) so that an error in
one graded file costs only the tests that use it.
"""
