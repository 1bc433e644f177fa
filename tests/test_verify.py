"""`verify` for every assignment: the reference gets full marks, the stubs zero (as "not
implemented yet"), and every example in examples/ exactly its manifest's points. This is the
check that a suite grades what it claims; it runs the real sandboxed engine."""
import json

import pytest
from autograder.authoring import registry as asg
from autograder.authoring.declare import load_tests
from harness import verified


@pytest.mark.slow
@pytest.mark.parametrize("name", asg.available())
def test_verify(name):
    """Hostile examples are left to tests/test_hostile.py, which grades each of them once, with
    a listener and a planted secret for the attacks to find. The batch is graded once per
    process (harness.verified): tests/test_feedback.py reads the examples' feedback from it."""
    ok, out, _ = verified(name)
    assert ok, f"verify {name} failed:\n{out[-6000:]}"
    # each example ran the tests its edits reach; "correct" (the reference's files) none
    assert "tests run" in out and "│ correct " in out and " 0/" in out, out[-3000:]


def test_every_assignment_has_examples_of_each_kind():
    for name in asg.available():
        folder = asg.KIT_ROOT / "examples" / name
        names = {p.name for p in folder.iterdir() if (p / "manifest.json").exists()}
        assert {"correct", "partial"} <= names, f"examples/{name} needs correct/ and partial/"
        assert len(names) >= 4, f"examples/{name} needs the classic bugs of its issue"


@pytest.mark.parametrize("name", asg.available())
def test_suite_declares_every_part_public_and_hidden(name):
    import importlib

    tests = load_tests(name)
    public = {t.part for t in tests if t.visibility == "public"}
    hidden = {t.part for t in tests if t.visibility == "hidden"}
    assert public == hidden, f"{name}: parts without both kinds: {public ^ hidden}"
    scenarios = importlib.import_module(f"autograder.suites.{name}.scenarios")
    for t in tests:
        assert callable(getattr(scenarios, t.scenario, None)), f"{name}: {t.name}"
        json.dumps(t.params)


@pytest.mark.parametrize("name", asg.available())
def test_solution_blocks_are_exactly_in_the_graded_files(name):
    """Students write the graded files and nothing else: every graded file has a solution
    block to stub, and no other module of the package has one."""
    a = asg.get(name)
    for f in sorted(a.solution_dir.glob("*.py")):
        text = f.read_text()
        has = "### BEGIN SOLUTION" in text and "### END SOLUTION" in text
        assert has == (f.name in a.graded_files), f"{f}: graded={f.name in a.graded_files}"


def test_verify_shares_workers_with_the_kits_own_code_only(tmp_path):
    """verify runs the reference, the stubs and the known examples one after another on kept
    workers; a hostile example always gets a worker of its own."""
    from autograder.instructor.examples import list_examples
    from autograder.instructor.verify import shared_worker_ids
    from autograder.engine.intake import submission_id

    a2 = asg.get("a2")
    examples = list_examples(a2)
    hostile = [ex for ex in examples if ex.name.startswith("hostile/")]
    known = [ex for ex in examples if not ex.name.startswith("hostile/")]
    assert hostile and known
    subs = {sid: tmp_path / sid for sid in ["reference", "stubs"]
            + [ex.submission_id for ex in examples]}
    shared = shared_worker_ids(subs, examples)
    assert {submission_id(subs[ex.submission_id]) for ex in hostile}.isdisjoint(shared)
    assert {submission_id(subs[s]) for s in ["reference", "stubs"]
            + [ex.submission_id for ex in known]} == shared
