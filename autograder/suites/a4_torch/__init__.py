"""Assignment 4: the recurrent language models in PyTorch (models, training loop, sampling,
the final table)."""
GRADED_FILES = ("models.py", "train.py", "sampling.py", "table.py")
TITLE = "Assignment 4: language models in PyTorch"
# Imported in the worker before any graded code runs (torch costs ~2 s once, not per test).
PRELOAD = ("numpy", "torch", "torch.optim", "lmcore.vocab", "lmcore.batching")
# torch._dynamo, which every torch.optim optimizer imports (another ~2 s), is not preloaded:
# the worker puts a stand-in in its place until something really compiles
# (autograder/engine/dynamo_deferral.py).
# The seeded sampling tests (hundreds of draws through the student's model) take the
# longest: a check's workers start them first.
LONG_SCENARIOS = ('generate_case',)
