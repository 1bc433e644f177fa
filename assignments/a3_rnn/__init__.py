"""Assignment 3: a recurrent language model in numpy.

Modules (each one a student file):
    rnn_layers.py   vanilla RNN step and sequence, embedding, temporal affine, masked softmax loss
    lstm_layers.py  LSTM step and sequence (gate order i, f, o, g) and the converter to torch's layout
    clipping.py     gradient clipping by global norm (exactly torch's) and by value; a NaN/inf detector
    models.py       the RNN/LSTM language model: teacher forcing, truncated BPTT, the next-token
                    distribution that lmcore.lm.generate samples from, and the
                    gradient-norm-against-distance measurement
"""
