"""The instructor's tools. This folder never ships to students: the release leaves it out whole.

    stubs.py        assignments/ generated from solutions/ (nbgrader markers in .py and notebooks)
    examples.py     known submissions (examples/<a>/*/manifest.json) and the scores they must get
    reference.py    the public tests' expected outputs, committed as data
    verify.py       reference full marks, stubs zero, every example exactly its manifest
    release/        build.py writes the student release; leakcheck.py refuses one that leaks
    demo.py         the whole pipeline on the bundled examples
    export/         Gradescope, otter-grader and nbgrader bridges
"""
import sys

# Every tool here that reads a notebook imports nbformat (nbgrader, otter-grader too), which
# imports jsonschema, which imports rfc3987_syntax where it is installed (jupyter's packages
# pull it in) for its "iri" string format; that module builds a lark grammar at import time,
# 2 s of CPU in every such process. No notebook schema uses the iri formats, and jsonschema
# leaves the format out when the import fails.
sys.modules.setdefault("rfc3987_syntax", None)
