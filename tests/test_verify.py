"""`verify` for every assignment: the reference gets full marks, the stubs zero (as "not
implemented yet"), and every example in examples/ exactly its manifest's points. This is the
check that a suite grades what it claims; it runs the real sandboxed engine."""
import pytest
from rich.console import Console

from autograder import assignments as asg
from autograder.verify import verify_assignment


@pytest.mark.parametrize("name", asg.available())
def test_verify(name, capsys):
    console = Console(width=160, force_terminal=False)
    ok = verify_assignment(asg.get(name), console, jobs=2)
    out = capsys.readouterr().out
    assert ok, f"verify {name} failed:\n{out[-6000:]}"


def test_every_assignment_has_examples_of_each_kind():
    for name in asg.available():
        folder = asg.KIT_ROOT / "examples" / name
        names = {p.name for p in folder.iterdir() if (p / "manifest.json").exists()}
        assert {"correct", "partial"} <= names, f"examples/{name} needs correct/ and partial/"
        assert len(names) >= 4, f"examples/{name} needs the classic bugs of its issue"
