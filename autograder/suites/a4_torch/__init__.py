"""Assignment 4: the recurrent language models in PyTorch (models, training loop, sampling,
the final table)."""
GRADED_FILES = ("models.py", "train.py", "generate.py", "table.py")
TITLE = "Assignment 4: language models in PyTorch"
