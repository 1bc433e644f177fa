"""Scenarios of a3_rnn: each takes the submission package ``sub`` and a seeded Generator
``rng``, calls the student's code, and returns plain data (judged in the parent).

Gradient checks (``*_gradcheck``) and the torch comparisons (``*_torch``) are self-checks:
they return what the judge needs (analytic and numerical gradients, or the student's values
beside torch autograd's on the same weights) and ignore the reference.

One module per graded module; the worker looks scenarios up by name in this package."""
from autograder.suites.a3_rnn.scenarios.rnn_layers import *  # noqa: F401,F403
from autograder.suites.a3_rnn.scenarios.lstm_layers import *  # noqa: F401,F403
from autograder.suites.a3_rnn.scenarios.clipping import *  # noqa: F401,F403
from autograder.suites.a3_rnn.scenarios.models import *  # noqa: F401,F403
