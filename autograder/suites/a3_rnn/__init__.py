"""Assignment 3: a recurrent language model in numpy (RNN, BPTT, clipping, LSTM)."""
GRADED_FILES = ("rnn_layers.py", "lstm_layers.py", "clipping.py", "models.py")
TITLE = "A3: recurrent language models in numpy"
# The hidden tests compare with torch autograd (oracle tests): torch runs only in the
# reference's run of them, which makes their expected outputs; a submission's worker never
# imports it.
PRELOAD_ORACLE = ("torch",)
# The seeded sampling tests (hundreds of draws through the student's model) take the
# longest: a check's workers start them first.
LONG_SCENARIOS = ('generate_draws',)
