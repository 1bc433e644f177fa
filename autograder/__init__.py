"""lmkit's grader, one sub-package per audience (each package's docstring lists its modules):

    engine/      the pipeline: intake -> staging -> the sandboxed worker (driver, worker,
                 sandbox, wire) -> judging -> batch; records.py holds what passes between them
    reporters/   renderings of the records: results.json, feedback.md, gradebook, console
    authoring/   what a suite imports: test declarations, judges, fixtures, the registry
    suites/      one folder per assignment: scenarios, public and hidden tests
    student/     check, submit, the pytest plugin, check() in notebooks (ships in the release)
    instructor/  stubs, examples, verify, reference outputs, release, demo, exports (never ships)

``python -m autograder <command>`` is cli.py; every error a user can fix is an errors.KitError.
"""
