"""Scenarios of assignment 4 (PyTorch): each calls the submission's API on seeded inputs and
returns plain data, judged in the parent against the reference's output.

Every scenario runs single-threaded (``torch.set_num_threads(1)``) and draws all of its
randomness from ``rng`` (numpy) or from a ``torch.Generator`` / ``torch.manual_seed`` seeded
from it, so the reference and a submission see exactly the same inputs.

The training-loop scenarios use ``_TinyLM``, a known-good model defined here, so that a
mistake in the student's model costs the model's tests, not the loop's.

One module per graded module; the worker looks scenarios up by name in this package."""
from autograder.suites.a4_torch.scenarios.models import *  # noqa: F401,F403
from autograder.suites.a4_torch.scenarios.train import *  # noqa: F401,F403
from autograder.suites.a4_torch.scenarios.sampling import *  # noqa: F401,F403
from autograder.suites.a4_torch.scenarios.table import *  # noqa: F401,F403
