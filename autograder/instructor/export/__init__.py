"""Exports of an assignment to other grading platforms, each driving this kit's own engine.

    python -m autograder export gradescope aN OUT.zip   Gradescope autograder zip (setup.sh,
                                                        run_autograder, engine, reference, hidden suite)
    python -m autograder export otter aN OUT.zip        a zip that `otter run -a OUT.zip SUB.zip` grades
    python -m autograder export nbgrader aN COURSE_DIR  an nbgrader course directory

Every export bundles the same kit (``bundle.py``): the engine, lmcore, the assignment's
suite (hidden tests included), its reference and stubs, and the hidden tests' expected outputs,
so the platform grades exactly as ``python -m autograder grade`` does.
"""
from __future__ import annotations

from pathlib import Path


def main(args, console) -> int:
    from autograder.authoring import registry as asg

    a = asg.get(args.assignment)
    out = Path(args.out)
    if args.platform == "gradescope":
        from autograder.instructor.export.gradescope import export_gradescope
        path = export_gradescope(a, out)
        console.print(f"[bold]Wrote {path}[/]: upload it as the autograder of a Gradescope "
                      "programming assignment (Ubuntu 22.04 base image); see docs/platforms/gradescope.md")
    elif args.platform == "otter":
        from autograder.instructor.export.otter import export_otter
        path = export_otter(a, out)
        console.print(f"[bold]Wrote {path}[/]: grade a submission with "
                      f"`otter run -a {path} SUBMISSION.zip`; see docs/platforms/otter.md")
    else:  # nbgrader (argparse allows only these three)
        from autograder.instructor.export.nbgrader import export_nbgrader
        path = export_nbgrader(a, out)
        console.print(f"[bold]Wrote the nbgrader course {path}[/]: run `nbgrader generate_assignment "
                      f"{a.name}` there; see docs/platforms/nbgrader.md")
    return 0
