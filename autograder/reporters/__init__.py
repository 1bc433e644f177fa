"""Reporters: each renders the typed results of grading (``engine.records``) for one reader.

    gradescope.py  results.json in Gradescope's schema (what the platform shows students)
    feedback.py    feedback.md, for the student
    gradebook.py   gradebook.csv and the class report (report.md with plots), per batch
    console.py     the rich table that ``check`` and ``grade`` print
    files.py       atomic writes, and the per-submission files (record.json is the lossless one)
"""
