"""lmkit's grading engine.

A grade is a pipeline, one module per stage:

    load.py     a submission (folder or zip) -> a staged folder of graded files
    run.py      drive a sandboxed worker (worker.py, isolated by sandbox.py) over the tests;
                outputs come back as files (outputs.py)
    judge.py    judge those outputs against the reference's, in this trusted process
    results.py  results.json (Gradescope's schema), feedback, gradebook and class report

Tests are declared once (suite.py) as a scenario (runs in the worker) and a judge (runs here),
per assignment under suites/.
"""
