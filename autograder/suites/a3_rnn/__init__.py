"""Assignment 3: a recurrent language model in numpy (RNN, BPTT, clipping, LSTM)."""
GRADED_FILES = ("rnn_layers.py", "lstm_layers.py", "clipping.py", "models.py")
TITLE = "A3: recurrent language models in numpy"
# The hidden tests compare with torch autograd: import torch once per worker, not per test.
PRELOAD_HIDDEN = ("torch",)
