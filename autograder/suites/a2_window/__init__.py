"""Assignment 2: the fixed-window neural LM (Bengio et al., 2003) in numpy."""
GRADED_FILES = ("layers.py", "models.py", "train.py")
TITLE = "A2: a fixed-window neural language model in numpy"
# The seeded sampling tests (hundreds of draws through the student's model) take the
# longest: a check's workers start them first.
LONG_SCENARIOS = ('generate_draws',)
