"""Assignment 4: the recurrent language models in PyTorch (models, training loop, sampling,
the final table)."""
GRADED_FILES = ("models.py", "train.py", "sampling.py", "table.py")
TITLE = "Assignment 4: language models in PyTorch"
# Imported in the worker before any graded code runs (torch costs ~2 s once, not per test).
PRELOAD = ("numpy", "torch", "torch.optim", "lmcore.vocab", "lmcore.batching")
# torch._dynamo (another ~2 s) is imported by the first step of any torch.optim optimizer (and
# its schedulers): preloaded for the runs that have a test of these scenarios, so that each of
# those tests does not import it again. A worker that runs none of them does without.
PRELOAD_WHEN = {"torch._dynamo": ("train_steps", "train_two_epochs", "detach_between_chunks",
                                  "fit_logic", "training_run")}
