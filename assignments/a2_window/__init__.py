"""Assignment 2: a fixed-window neural language model (Bengio et al., 2003) in numpy.

Modules (each imported on its own, so a mistake in one costs only the tests that use it):

    layers.py   the layers, cs231n style: embedding, window concatenation, affine, tanh and
                softmax cross-entropy, each a forward ``(out, cache)`` and a backward
                ``(dout, cache)``
    model.py    ``WindowLM``: the network assembled from the layers, its loss and gradients,
                log-probabilities, perplexity, sampling and lmcore's LanguageModel interface
    train.py    minibatch SGD and Adam written by hand, a learning-rate schedule and the
                training loop that returns the learning curve

Letters used in every docstring: minibatch N, context length C (the window holds the C = n-1
previous words), vocabulary V, embedding D, hidden H.
"""
