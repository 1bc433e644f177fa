"""Assignment 4: the recurrent language models of a3 in PyTorch, trained for real.

Modules (each imported on its own, so a mistake in one costs only the tests that use it):

    models.py    ``RNNLM`` and ``LSTMLM`` (nn.Modules: embedding, recurrent layer, decoder,
                 optional weight tying and dropout), the log-softmax over the prediction
                 space (``<s>`` excluded), teacher-forcing batches of whole sentences, and
                 ``TorchLM``, the adapter to lmcore's LanguageModel interface
    train.py     the loss, truncated BPTT with the state detached between chunks, clipping by
                 global norm written by hand (exactly torch's), evaluation, atomic
                 checkpoints, and ``fit``: Adam, learning-rate schedule, early stopping
    sampling.py  the next token from a batch of logits: temperature, top-k and greedy, drawn
                 with a torch.Generator (whole sentences: ``lmcore.lm.generate`` over a
                 ``TorchLM``)
    table.py     the course's final table: every model of a1-a4 on the same test split

Letters used in every docstring: minibatch N, sequence T, embedding E, hidden H, layers L,
vocabulary V. Everything runs on the CPU by default; pass ``device="cuda"`` where a GPU exists.
"""
