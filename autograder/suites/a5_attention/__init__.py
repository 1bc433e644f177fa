"""Assignment 5: attention, from the LSTM's bottleneck to a small decoder-only transformer
(numpy layers by hand; the transformer LM in torch, trained with a4's loop)."""
GRADED_FILES = ("attention.py", "layers.py", "models.py", "train.py")
TITLE = "Assignment 5: attention and the transformer"
# Imported in the worker before any graded code runs, so that every forked test inherits them;
# numpy.random (numpy 2 loads it lazily) ~10 ms a test. Nothing else: no test steps a
# torch.optim optimizer (the first step imports torch._dynamo, another ~2 s, and re-wraps
# torch.manual_seed), and no scenario calls y.backward(gradient) (it imports torch's symbolic
# shapes and sympy, 0.4 s a test).
PRELOAD = ("numpy", "numpy.random", "lmcore.vocab", "lmcore.batching")
# torch (1.2-2.8 s of CPU once) only where a submission's code needs it: the torch files
# (models.py, train.py). A submission whose edits reach only the numpy layers (most of verify's
# examples), or a check's second worker, starts without. tests/test_worker.py checks that no
# other test imports torch in a submission's worker.
PRELOAD_WHEN = {"torch": ("attn_module", "block_module", "model_forward", "model_incremental",
                          "model_dropout", "model_tying", "tiny_run", "schedule", "groups")}
# The numpy layers' tests against torch autograd (oracle tests): torch computes their expected
# values in the reference's run only.
PRELOAD_ORACLE = ("torch",)
