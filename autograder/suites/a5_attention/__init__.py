"""Assignment 5: attention, from the LSTM's bottleneck to a small decoder-only transformer
(numpy layers by hand; the transformer LM in torch, trained with a4's loop)."""
GRADED_FILES = ("attention.py", "layers.py", "models.py", "train.py")
TITLE = "Assignment 5: attention and the transformer"
# Imported in the worker before any graded code runs: torch costs ~2 s once, not per test.
# No public or hidden test steps a torch.optim optimizer (the first step imports
# torch._dynamo, another ~2 s, and re-wraps torch.manual_seed), so neither is preloaded.
PRELOAD = ("numpy", "torch", "lmcore.vocab", "lmcore.batching")
