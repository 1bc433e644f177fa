"""Assignment 5: attention, from the LSTM's bottleneck to a small decoder-only transformer
(numpy layers by hand; the transformer LM in torch, trained with a4's loop)."""
GRADED_FILES = ("attention.py", "layers.py", "models.py", "train.py")
TITLE = "Assignment 5: attention and the transformer"
# Imported in the worker before any graded code runs, so that every forked test inherits them:
# torch costs ~1.2 s once, not per test; numpy.random (numpy 2 loads it lazily) ~10 ms a test.
# Nothing else: no test steps a torch.optim optimizer (the first step imports torch._dynamo,
# another ~2 s, and re-wraps torch.manual_seed), and no scenario calls y.backward(gradient)
# (it imports torch's symbolic shapes and sympy, 0.4 s a test).
PRELOAD = ("numpy", "numpy.random", "torch", "lmcore.vocab", "lmcore.batching")
