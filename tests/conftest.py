"""Lets plain `pytest` import the kit's packages (lmcore, autograder) from the repo root.
Redundant once pyproject.toml sets `[tool.pytest.ini_options] pythonpath = ["."]`."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
