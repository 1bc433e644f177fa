"""Assignment 1: n-gram language models (counting, smoothing, backoff, Kneser-Ney)."""
GRADED_FILES = ("counts.py", "models.py")
TITLE = "A1: n-gram language models"
# Tests on the real Shakespeare split share its parsed sentences: the worker parses them once.
WARM_WHEN = {"corpus": "shakespeare"}
