"""Assignment 2: a fixed-window neural language model (Bengio et al., 2003) in numpy.

Modules (each imported on its own, so a mistake in one costs only the tests that use it):

    layers.py   the layers, cs231n style: embedding, window concatenation, affine, tanh and
                softmax cross-entropy, each a forward ``(out, cache)`` and a backward
                ``(dout, cache)``
    models.py   ``WindowLM``: the network assembled from the layers, its loss and gradients,
                window and sentence log-probabilities and the next-word distribution:
                lmcore's LanguageModel interface (lmcore.lm.perplexity and lmcore.lm.generate
                serve it)
    train.py    minibatch SGD and Adam written by hand, a learning-rate schedule and the
                training loop that returns the learning curve

Letters used in every docstring: minibatch N, context length C (the window holds the C = n-1
previous words), vocabulary V, embedding D, hidden H.
"""
