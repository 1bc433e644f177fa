"""``check(...)`` inside a notebook: one part's public tests, shown inline.

    from autograder.student.notebook import check
    check("rnn_step_backward")      # the tests of that function (or class, or part)
    check("rnn_layers.py")          # every part whose code lives in that file
    check()                         # the whole public suite

The tests run exactly as ``python -m autograder check`` runs them: the graded files of the
notebook's folder, laid over the kit's stub package, in the same sandboxed worker, judged in
this process against the committed expected outputs. The worker is kept for the notebook's
next check (the files are staged again and compiled anew each time; every test still runs in
a fresh fork), so only the first check pays for starting it. The result shows as a table with the
feedback of every failed test (HTML in Jupyter, text elsewhere).
"""
from __future__ import annotations

import ast
from pathlib import Path

from autograder.authoring import registry
from autograder.authoring.declare import load_tests
from autograder.engine.records import SubmissionResult


def part_names(part: str) -> set[str]:
    """The functions a part names: "rnn_step_forward/backward" -> {rnn_step_forward,
    rnn_step_backward, rnn_step_forward/backward}; "WindowLM.loss" -> {WindowLM.loss, WindowLM}."""
    names = {part}
    pieces = [p.strip() for p in part.split("/")]
    stem = ""
    for p in pieces:
        if "_" in p or "." in p or not stem:
            stem = p.rsplit("_", 1)[0] + "_" if "_" in p else ""
            names.add(p)
        else:                              # "backward" after "rnn_step_forward"
            names.add(stem + p)
        names.add(p.split(".")[0])
    return names


def names_match(part: str, names: set[str]) -> bool:
    """Does a part name one of ``names``? A layer part ("affine") names its forward and
    backward functions (affine_forward, affine_backward)."""
    own = part_names(part)
    return any(n in own or any(n.startswith(p + "_") for p in own) for n in names)


def defined_in(folder: Path, filename: str) -> set[str]:
    """Top-level functions and classes of ``folder/filename``."""
    tree = ast.parse((folder / filename).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def select(assignment, folder: Path, wanted: tuple[str, ...]) -> list:
    tests = load_tests(assignment.name, include_hidden=False)
    if not wanted:
        return tests
    chosen = []
    for w in wanted:
        if w.endswith(".py"):
            if w not in assignment.graded_files:
                raise ValueError(f"{w} is not one of the graded files of {assignment.name}: "
                                 f"{', '.join(assignment.graded_files)}")
            names = defined_in(folder, w)
            hit = [t for t in tests if names_match(t.part, names)]
        else:
            hit = [t for t in tests if names_match(t.part, {w}) or t.name == w
                   or t.name.startswith(w + ".")]
        if not hit:
            parts = sorted({t.part for t in tests})
            raise ValueError(f"no public test checks {w!r}; the parts of {assignment.name} are: "
                             + ", ".join(parts))
        chosen += [t for t in hit if t not in chosen]
    return chosen


class CheckResult:
    """What ``check`` returns: shown as HTML in Jupyter, as text elsewhere."""

    def __init__(self, res: SubmissionResult, what: str):
        self.result, self.what = res, what

    @property
    def passed(self) -> bool:
        return not self.result.fatal and self.result.score >= self.result.max_score - 1e-9

    def _render(self):
        from rich.console import Console

        from autograder.reporters.console import print_check
        import io
        console = Console(record=True, width=100, force_terminal=False, force_jupyter=False,
                          highlight=False, file=io.StringIO())
        print_check(self.result, console)
        return console

    def __repr__(self) -> str:
        return self._render().export_text()

    def _repr_html_(self) -> str:
        return self._render().export_html(inline_styles=True, code_format="<pre style=\"font-size: 90%\">{code}</pre>")


# assignment name -> (its public kit, the runner whose worker this notebook's checks share)
_KEPT: dict = {}


def _kept(a):
    """The public kit and the kept worker of ``a`` in this process, made on the first check:
    the later checks of the notebook skip a worker's start (torch's import, a1's corpus)."""
    if a.name not in _KEPT:
        import atexit

        from autograder.engine.batch import temp_kit
        from autograder.engine.runners import KeptRunner
        from autograder.engine.staging import public_kit

        kit = temp_kit()
        public_kit(Path(kit.name), corpus=bool(a.warm_when))
        runner = KeptRunner(a, Path(kit.name))
        _KEPT[a.name] = (kit, runner)
        atexit.register(close)
    return _KEPT[a.name]


def close() -> None:
    """Stop the workers this notebook's checks kept (done at exit too)."""
    while _KEPT:
        _, (kit, runner) = _KEPT.popitem()
        runner.close()
        kit.cleanup()


def check(*parts: str, folder: str | Path | None = None) -> CheckResult:
    """Run the public tests of ``parts`` (function, class or part names, or graded file names)
    on the graded files in ``folder`` (default: the notebook's working folder)."""
    from autograder.engine.batch import make_grader
    from autograder.engine.intake import load_submission

    folder = Path(folder or Path.cwd()).resolve()
    a = registry.get(folder.name)
    tests = select(a, folder, parts)
    sub = load_submission(folder, a)
    kit, runner = _kept(a)
    res = make_grader(a, tests, Path(kit.name), kit_ready=True).grade_one(sub, kept=runner)
    what = ", ".join(parts) or "every part"
    res.submission = what
    return CheckResult(res, what)
