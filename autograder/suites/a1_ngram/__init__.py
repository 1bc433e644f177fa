"""Assignment 1: n-gram language models (counting with dicts, then vectorised: smoothing,
backoff, Kneser-Ney)."""
GRADED_FILES = ("counts.py", "dict_models.py", "models.py")
TITLE = "A1: n-gram language models"
# Tests on the real Shakespeare split share its parsed sentences: the worker parses them once.
WARM_WHEN = {"corpus": "shakespeare"}
# The seeded sampling tests (hundreds of draws through the student's model) take the
# longest: a check's workers start them first.
LONG_SCENARIOS = ('sampling',)
