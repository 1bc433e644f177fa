"""The single source for stubs (autograder/instructor/stubs.py) and the student release with
its leak check (autograder/instructor/release/), on a fake kit (tests/fixtures/release/) and on the real one."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from autograder.instructor import stubs
from autograder.instructor.release import build as release
from autograder.instructor.release import ReleaseError
from autograder.instructor.release.build import write_release
from autograder.instructor.release.leakcheck import Leak, ReleaseLeak, leak_check
from autograder.instructor.stubs import StubError, clear_notebook, generate_assignments, make_stub_source

KIT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "release"
TOY = FIXTURE / "solutions" / "a9_toy" / "toy.py"
NOTEBOOK = FIXTURE / "solutions" / "a9_toy" / "a9_toy.ipynb"

CLEAN_RELEASE = sorted([
    "README.md", "pytest.ini", "requirements.txt",
    "assignments/a8_extra/__init__.py", "assignments/a8_extra/extra.py",
    "assignments/a9_toy/__init__.py", "assignments/a9_toy/a9_toy.ipynb",
    "assignments/a9_toy/data.txt", "assignments/a9_toy/test_public.py",
    "assignments/a9_toy/toy.py",
    "autograder/__init__.py", "autograder/__main__.py",
    "autograder/suites/a8_extra/__init__.py", "autograder/suites/a8_extra/public.py",
    "autograder/suites/a9_toy/__init__.py",
    "autograder/suites/a9_toy/expected/scaled_mean.short.json",
    "autograder/suites/a9_toy/public.py", "autograder/suites/a9_toy/scenarios.py",
    "lmcore/__init__.py", "lmcore/util.py",
])


@pytest.fixture
def kit(tmp_path) -> Path:
    """A writable copy of the fake kit, with assignments/ generated."""
    root = tmp_path / "kit"
    shutil.copytree(FIXTURE, root)
    (root / "autograder" / "instructor" / "release").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KIT / "autograder" / "instructor" / "release" / "student_readme.md",
                    root / "autograder" / "instructor" / "release" / "student_readme.md")
    generate_assignments(root)
    return root


def run_module(source: str, name: str = "stubbed") -> dict:
    namespace = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


# -- .py stubs ---------------------------------------------------------------------------------
def test_stub_keeps_every_line_outside_the_blocks_byte_identical():
    source = TOY.read_text()
    stub = make_stub_source(source, "toy.py")
    blocks = stubs.find_blocks(source, "toy.py")
    inside = {n for b in blocks for n in range(b.begin, b.end + 1)}
    kept = [line for n, line in enumerate(source.splitlines(keepends=True), 1) if n not in inside]
    stub_lines = stub.splitlines(keepends=True)
    # the kept lines appear in the stub in order, each exactly as it was
    it = iter(stub_lines)
    for line in kept:
        assert any(s == line for s in it), f"line {line!r} of toy.py is missing from the stub"
    added = len(stub_lines) - len(kept)
    assert added == sum(len(b.hints) + 1 for b in blocks)
    assert "total = float(np.sum(x, dtype=np.float64)) * SCALE\n" in stub  # the docstring's copy
    assert "self.counts[word] = self.counts.get(word, 0) + 1" not in stub
    assert "BEGIN SOLUTION" not in stub and "END SOLUTION" not in stub


def test_hints_survive_and_the_error_names_the_function_or_method():
    stub = make_stub_source(TOY.read_text(), "toy.py")
    assert ("    # Hint: sum in float64 so that long inputs do not lose precision.\n"
            '    raise NotImplementedError("scaled_mean: write this part")\n') in stub
    assert ("        # Hint: dict.get(word, 0) reads a count that may not exist yet.\n"
            '        raise NotImplementedError("Counter.add: write this part")\n') in stub
    ns = run_module(stub)
    with pytest.raises(NotImplementedError, match=r"^scaled_mean: write this part$"):
        ns["scaled_mean"]([1.0, 2.0])
    counter = ns["Counter"]()            # the given __init__ still works
    assert counter.counts == {}
    with pytest.raises(NotImplementedError, match=r"^Counter\.add: "):
        counter.add(["a"])


def test_several_blocks_in_one_function_are_numbered():
    stub = make_stub_source(TOY.read_text(), "toy.py")
    first = stub.index('"Counter.normalized: write this part (part 1 of 2)"')
    hint = stub.index("# Hint: one division per word.")
    second = stub.index('"Counter.normalized: write this part (part 2 of 2)"')
    assert first < hint < second


def test_module_level_nested_and_class_body_blocks():
    source = (
        "import math\n"
        "### BEGIN SOLUTION\n"
        "# HINT: a dict from word to length\n"
        "TABLE = {w: len(w) for w in ('a', 'bb')}\n"
        "### END SOLUTION\n"
        "\n"
        "def outer(x):\n"
        "    def inner(y):\n"
        "        ### BEGIN SOLUTION\n"
        "        return y + 1\n"
        "        ### END SOLUTION\n"
        "    return inner(x)\n"
        "\n"
        "class Model:\n"
        "    ### BEGIN SOLUTION\n"
        "    gate_order = ('i', 'f', 'o', 'g')\n"
        "    ### END SOLUTION\n"
    )
    stub = make_stub_source(source, "mod.py")
    assert ("# Hint: a dict from word to length\n"
            'raise NotImplementedError("<module>: write this part")\n') in stub
    assert '        raise NotImplementedError("outer.inner: write this part")\n' in stub
    assert '    raise NotImplementedError("Model: write this part")\n' in stub
    with pytest.raises(NotImplementedError, match="<module>"):
        run_module(stub)


@pytest.mark.parametrize("source, where, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "bad.py:2", "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "bad.py:3", "without a BEGIN"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### BEGIN SOLUTION\n    return x\n"
     "    ### END SOLUTION\n", "bad.py:4", "nested BEGIN SOLUTION.*line 2"),
    ("def f():\n    x = 1  ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
     "bad.py:2", "on a line of its own"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n### END SOLUTION\n", "bad.py:4",
     "indented differently"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n\ndef g():\n    return 2\n    ### END SOLUTION\n",
     "bad.py:2", "past the end of f"),
])
def test_bad_markers_name_the_file_and_line(source, where, message):
    with pytest.raises(StubError, match=rf"^{where}: .*{message}"):
        make_stub_source(source, "bad.py")


def test_a_stub_that_would_not_compile_is_refused():
    # the block is the whole body of an `if`, but starts at the `if`'s own indentation
    source = "def f(x):\n    if x:\n    ### BEGIN SOLUTION\n        return 1\n    ### END SOLUTION\n"
    with pytest.raises(StubError, match=r"^odd\.py:\d+: the generated stub does not compile"):
        make_stub_source(source, "odd.py")


def test_markers_inside_strings_are_not_markers_and_crlf_is_kept():
    source = ('def f():\r\n    """Write between ### BEGIN SOLUTION and ### END SOLUTION."""\r\n'
              "    ### BEGIN SOLUTION\r\n    return 1\r\n    ### END SOLUTION\r\n")
    stub = make_stub_source(source, "f.py")
    assert stub == ('def f():\r\n    """Write between ### BEGIN SOLUTION and ### END SOLUTION."""\r\n'
                    '    raise NotImplementedError("f: write this part")\r\n')


def test_stubs_compile_and_stubbing_is_idempotent():
    stub = make_stub_source(TOY.read_text(), "toy.py")
    compile(stub, "toy.py", "exec")
    assert make_stub_source(stub, "toy.py") == stub


# -- notebooks ---------------------------------------------------------------------------------
def test_notebooks_go_through_nbgraders_own_preprocessors():
    classes = {type(p).__name__ for p in stubs.notebook_preprocessors()}
    assert {"ClearSolutions", "ClearOutput", "ClearHiddenTests", "ClearMarkScheme"} <= classes
    assert all(type(p).__module__.startswith("nbgrader.preprocessors.")
               for p in stubs.notebook_preprocessors())


def test_notebook_solutions_answers_outputs_and_hidden_tests_are_cleared():
    text = NOTEBOOK.read_text()
    out = clear_notebook(text, "a9_toy.ipynb")
    assert out == clear_notebook(text, "a9_toy.ipynb") and out.endswith("}\n")
    src = {c["id"]: c for c in json.loads(text)["cells"]}
    nb = {c["id"]: c for c in json.loads(out)["cells"]}
    assert list(nb) == list(src)                      # same cells, same ids, same order
    code = "".join(nb["q1-code"]["source"])
    assert code == "import numpy as np\n# YOUR CODE HERE\nraise NotImplementedError()\nprint(column_sums)"
    assert nb["q1-code"]["outputs"] == [] and nb["q1-code"]["execution_count"] is None
    assert src["q1-code"]["outputs"], "the fixture should have an output to clear"
    assert "".join(nb["q2-answer"]["source"]) == "YOUR ANSWER HERE"
    assert "".join(nb["q2-text"]["source"]) == "".join(src["q2-text"]["source"])
    assert "".join(nb["q1-tests"]["source"]) == "assert column_sums.shape == (5,)"
    assert nb["q2-answer"]["metadata"]["nbgrader"]["checksum"]   # nbgrader can autograde it


def test_a_solution_region_outside_a_solution_cell_is_refused_with_its_cell():
    nb = json.loads(NOTEBOOK.read_text())
    nb["cells"][0]["cell_type"] = "code"
    nb["cells"][0].update(outputs=[], execution_count=None,
                          source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    with pytest.raises(StubError, match=r"^nb\.ipynb: cell 0 .*ClearSolutions refused"):
        clear_notebook(json.dumps(nb), "nb.ipynb")


# -- generate_assignments ----------------------------------------------------------------------
def test_generate_writes_then_agrees_and_reruns_are_byte_identical(kit):
    before = {p: p.read_bytes() for p in (kit / "assignments").rglob("*") if p.is_file()}
    assert generate_assignments(kit, check=True) == []
    assert generate_assignments(kit) == []
    assert before == {p: p.read_bytes() for p in (kit / "assignments").rglob("*") if p.is_file()}
    assert (kit / "assignments/a9_toy/data.txt").read_bytes() == \
        (kit / "solutions/a9_toy/data.txt").read_bytes()


def test_check_reports_drift_and_generate_repairs_it(kit):
    stub = kit / "assignments/a9_toy/toy.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    orphan = kit / "assignments/a9_toy/old_helper.py"
    orphan.write_text("x = 1\n")
    (kit / "assignments/a9_toy/__pycache__").mkdir()
    (kit / "assignments/a9_toy/__pycache__/toy.cpython-311.pyc").write_bytes(b"\0")
    expected = [Path("assignments/a9_toy/old_helper.py"), Path("assignments/a9_toy/toy.py")]
    assert generate_assignments(kit, check=True) == expected
    assert orphan.exists()                                  # check writes nothing
    assert generate_assignments(kit) == expected
    assert not orphan.exists() and generate_assignments(kit, check=True) == []
    assert (kit / "assignments/a9_toy/__pycache__").exists()   # build residue is not ours


def test_real_kit_assignments_match_solutions():
    if not stubs.assignment_names(KIT):
        pytest.skip("solutions/ has no assignment folder yet")
    drift = generate_assignments(KIT, check=True)
    assert drift == [], ("assignments/ differs from what solutions/ generates; run "
                         "`python -m autograder stubs` and commit: "
                         + ", ".join(p.as_posix() for p in drift))


# -- the release -------------------------------------------------------------------------------
def test_clean_release_holds_exactly_the_student_files(kit, tmp_path):
    out = tmp_path / "release"
    report = write_release(kit, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == CLEAN_RELEASE
    assert list(report.files) == CLEAN_RELEASE and report.assignments == ("a8_extra", "a9_toy")
    assert "autograder/suites/a9_toy/hidden.py" in report.left_out
    assert "autograder/instructor/export/__init__.py" in report.left_out
    assert leak_check(out, kit) == []
    readme = (out / "README.md").read_text()
    assert "| a9 | `assignments/a9_toy/` | A9: a toy assignment | `toy.py` |" in readme
    assert "python -m autograder check a8" in readme and "pytest assignments/a8_extra" in readme
    assert "python -m autograder submit a8" in readme and "$" not in readme
    assert "torch==2.13.0" in (out / "requirements.txt").read_text()
    assert not list(tmp_path.glob(".release*")), "the scratch folder was left behind"


def test_release_of_one_assignment_leaves_the_others_out(kit, tmp_path):
    report = write_release(kit, tmp_path / "r", ["a9"], platform="gradescope")
    assert report.assignments == ("a9_toy",)
    assert not any("a8_extra" in f for f in report.files)
    readme = (tmp_path / "r" / "README.md").read_text()
    assert "Gradescope" in readme and "Otter" not in readme and "<!--" not in readme


def test_a_copied_solution_line_makes_the_release_refuse_and_name_the_file(kit, tmp_path):
    util = kit / "lmcore" / "util.py"
    util.write_text(util.read_text() + "\n\nclass Tally:\n    def __init__(self):\n"
                    "        self.counts = {}\n\n    def add(self, word):\n"
                    "        self.counts[word] = self.counts.get(word, 0) + 1\n")
    out = tmp_path / "release"
    with pytest.raises(ReleaseLeak) as err:
        write_release(kit, out)
    leaks = err.value.leaks
    assert [(l.file, l.line) for l in leaks] == [("lmcore/util.py", 15)]
    assert "solutions/a9_toy/toy.py:34" in leaks[0].what
    assert "lmcore/util.py:15" in str(err.value)
    assert not out.exists() and not list(tmp_path.glob(".release*"))


def test_a_copied_hidden_suite_makes_the_release_refuse(kit, tmp_path):
    shutil.copyfile(kit / "autograder/suites/a9_toy/hidden.py", kit / "lmcore" / "hidden.py")
    with pytest.raises(ReleaseLeak) as err:
        write_release(kit, tmp_path / "release")
    whats = {(l.file, l.line): l.what for l in err.value.leaks}
    assert "hidden.py" in whats[("lmcore/hidden.py", 0)]
    assert "scaled_mean.long_shifted" in whats[("lmcore/hidden.py", 5)]   # its test name
    assert not (tmp_path / "release").exists()


def test_an_existing_release_is_replaced_only_when_it_was_a_release(kit, tmp_path):
    out = tmp_path / "release"
    write_release(kit, out)
    (out / "stale.txt").write_text("from an older release")
    write_release(kit, out)
    assert not (out / "stale.txt").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(ReleaseError, match="not an earlier release"):
        write_release(kit, other)
    with pytest.raises(ReleaseError, match="refusing"):
        write_release(kit, kit / "lmcore")
    assert (other / "mine.txt").read_text() == "keep me"


def test_stale_stubs_are_refused(kit, tmp_path):
    (kit / "assignments/a9_toy/toy.py").write_text("# old\n")
    with pytest.raises(ReleaseError, match=r"out of date.*assignments/a9_toy/toy\.py"):
        write_release(kit, tmp_path / "release")


# -- the leak check itself ---------------------------------------------------------------------
def plant(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_leak_check_finds_each_kind_of_leak(kit, tmp_path):
    out = tmp_path / "release"
    write_release(kit, out)
    nb_path = out / "assignments/a9_toy/a9_toy.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    nb["cells"][3]["source"] = ("Each step multiplies the gradient by the recurrent Jacobian, "
                                "whose norm stays below one for tanh units.")
    nb["cells"][4]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ok\n"}]
    nb_path.write_text(json.dumps(nb))
    plant(out, ".cache/expected/a9_toy/x.json", "{}")
    plant(out, "autograder/suites/a9_toy/.cache/y.json", "{}")
    plant(out, "lmcore/notes.md", "see scaled_mean.long_shifted for the long case\n")
    plant(out, "lmcore/params.py", "P = {'n': 1000, 'offset': -3.25}\n")
    plant(out, "lmcore/copy.py", "    doubled_values = [2 * value for value in values]\n")
    plant(out, "lmcore/marker.py", "x = 1\n    ### END SOLUTION\n")
    plant(out, "solutions/a9_toy/toy.py", "")
    found = {str(leak) for leak in leak_check(out, kit)}
    expected_starts = [
        "assignments/a9_toy/a9_toy.ipynb cell 1:1: nbgrader marker 'BEGIN SOLUTION'",
        "assignments/a9_toy/a9_toy.ipynb cell 3:1: a written answer from "
        "solutions/a9_toy/a9_toy.ipynb cell 3",
        "assignments/a9_toy/a9_toy.ipynb cell 4:0: the cell still has outputs",
        ".cache/expected/a9_toy/x.json:0: a reference-output cache (.cache/)",
        "autograder/suites/a9_toy/.cache/y.json:0: a reference-output cache",
        "lmcore/notes.md:1: the name of hidden test 'scaled_mean.long_shifted'",
        "lmcore/params.py:1: the inputs of autograder/suites/a9_toy/hidden.py test "
        "scaled_mean.long_shifted",
        "lmcore/copy.py:1: solution code from solutions/a8_extra/extra.py:4",
        "lmcore/marker.py:2: solution marker",
        "solutions:0: the instructor folder solutions/",
    ]
    for start in expected_starts:
        assert any(f.startswith(start) for f in found), f"no leak reported as {start!r}: {found}"


def test_docstrings_signatures_and_hints_are_not_leaks(kit, tmp_path):
    fp = release.fingerprints(kit)
    # the docstring of scaled_mean quotes its solution line: given, so not looked for
    assert "total=float(np.sum(x,dtype=np.float64))*SCALE" not in fp.code
    assert "self.counts[word]=self.counts.get(word,0)+1" in fp.code
    out = tmp_path / "release"
    write_release(kit, out)
    stub = (out / "assignments/a9_toy/toy.py").read_text()
    # the stub itself, pasted anywhere (docstrings, signatures, hints), is not a leak
    plant(out, "lmcore/pasted.py", stub)
    assert leak_check(out, kit) == []


def test_plumbing_lines_and_declared_public_lines_are_not_looked_for(kit):
    extra = kit / "solutions/a8_extra/extra.py"
    extra.write_text(extra.read_text().replace(
        "    doubled_values = [2 * value for value in values]\n",
        "    doubled_values = [2 * value for value in values]  # leak-check: public\n"
        "    helper_path.parent.mkdir(parents=True, exist_ok=True)\n"))
    fp = release.fingerprints(kit)
    assert not any("doubled_values" in f or "mkdir" in f for f in fp.code)
    assert "doubled_values=[2*valueforvalueinvalues]" in fp.given


def test_leaks_read_as_file_line_what():
    assert str(Leak("lmcore/x.py", 3, "solution code")) == "lmcore/x.py:3: solution code"
    assert str(Leak("a.ipynb", 2, "marker", cell=4)) == "a.ipynb cell 4:2: marker"


def test_real_kit_releases_without_leaks(tmp_path):
    names = [n for n in stubs.assignment_names(KIT) if (KIT / "autograder/suites" / n).is_dir()]
    if not names:
        pytest.skip("no assignment has both solutions/ and a suite yet")
    if generate_assignments(KIT, check=True):
        pytest.skip("assignments/ drifts from solutions/: test_real_kit_assignments_match_solutions "
                    "says what to run")
    report = write_release(KIT, tmp_path / "release")
    assert not any(f.startswith(("solutions/", "examples/", "tests/")) or f.endswith("hidden.py")
                   for f in report.files)
    assert {f"assignments/{n}/__init__.py" for n in names} <= set(report.files)


def test_release_refers_only_to_files_it_holds(tmp_path):
    """Student files cite the kit's own docs, which ship; never a document outside the kit."""
    report = write_release(KIT, tmp_path / "release")
    out = tmp_path / "release"
    assert (out / "docs" / "conventions.md").is_file()
    cited = re.compile(r"\b(docs/[\w./-]+\.md)\b")
    for rel in report.files:
        text = (out / rel).read_text(encoding="utf-8", errors="ignore")
        name = _outside_citation(text)
        assert name is None, f"{rel} cites {name!r}, a document no student has"
        for doc in cited.findall(text):
            assert (out / doc).is_file(), \
                f"{rel} cites {doc}, which the release does not hold"


# The project's guide documents, which live outside the repository: cited by file name
# ("DESIGN.md") or by the bare upper-case word ("DESIGN's rule", "see PLATFORMS").
_OUTSIDE_DOCS = ("DESIGN", "PLATFORMS", "STYLE")
_OUTSIDE = re.compile(r"\b(?:%s)(?:\.md)?\b" % "|".join(_OUTSIDE_DOCS))


def _outside_citation(text: str) -> str | None:
    m = _OUTSIDE.search(text)
    return m.group(0) if m else None


def test_outside_citations_are_recognised():
    for text in ("see DESIGN.md", "DESIGN's rule", "as PLATFORMS says", "STYLE.md, section 2"):
        assert _outside_citation(text) is not None, text
    for text in ("the design of the kit", "design_tokens", "EXPORT_TARGETS", "Designed by",
                 "docs/design.md", "platforms: gradescope"):
        assert _outside_citation(text) is None, text


def test_no_project_file_cites_a_document_outside_the_repository():
    import subprocess
    files = subprocess.run(["git", "ls-files"], cwd=KIT, capture_output=True, text=True,
                           check=True).stdout.split()
    this = Path(__file__).resolve().relative_to(KIT).as_posix()
    bad = [(f, _outside_citation((KIT / f).read_text(encoding="utf-8", errors="ignore")))
           for f in files if f != this and (KIT / f).is_file()]
    bad = [(f, c) for f, c in bad if c is not None]
    assert bad == [], f"these files cite documents the repository does not hold: {bad}"
