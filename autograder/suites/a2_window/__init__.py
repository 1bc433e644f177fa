"""Assignment 2: the fixed-window neural LM (Bengio et al., 2003) in numpy."""
GRADED_FILES = ("layers.py", "models.py", "train.py")
TITLE = "A2: a fixed-window neural language model in numpy"
