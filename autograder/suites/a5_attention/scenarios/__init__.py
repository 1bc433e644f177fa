"""Scenarios of a5_attention: each takes the submission package ``sub`` and a seeded Generator
``rng``, calls the student's code, and returns plain data (judged in the parent).

``*_gradcheck`` and ``*_torch`` scenarios are self-checks: numerical gradients of the
student's own forward, or the student's values beside torch's (autograd,
``F.scaled_dot_product_attention``) on the same inputs and weights.

``variants`` are classic wrong answers computed with the package's own functions on
transformed inputs (the mask applied after the softmax is the softmax with no mask, times the
mask; a missing 1 / sqrt(d_k) is attention on queries scaled by sqrt(d_k); ...). In the
reference's run they are the wrong answers exactly; the hints compare the student's output
with the reference's ``variants``, so a hint fires only on the bug it names. They are
computed after the student's own outputs, and a variant that fails is left out.

One module per graded module; the worker looks scenarios up by name in this package."""
from autograder.suites.a5_attention.scenarios.attention import *  # noqa: F401,F403
from autograder.suites.a5_attention.scenarios.layers import *  # noqa: F401,F403
from autograder.suites.a5_attention.scenarios.models import *  # noqa: F401,F403
from autograder.suites.a5_attention.scenarios.train import *  # noqa: F401,F403
