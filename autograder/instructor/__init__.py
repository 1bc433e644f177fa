"""The instructor's tools. This folder never ships to students: the release leaves it out whole.

    stubs.py        assignments/ generated from solutions/ (nbgrader markers in .py and notebooks)
    examples.py     known submissions (examples/<a>/*/manifest.json) and the scores they must get
    reference.py    the public tests' expected outputs, committed as data
    verify.py       reference full marks, stubs zero, every example exactly its manifest
    release/        build.py writes the student release; leakcheck.py refuses one that leaks
    demo.py         the whole pipeline on the bundled examples
    export/         Gradescope, otter-grader and nbgrader bridges
"""
