"""The worker's own machinery, without a sandbox: what it prepares once before forking tests."""
import importlib
import os
import sys

import pytest

from autograder.engine import dynamo_deferral, precompiled, worker


@pytest.fixture
def package(tmp_path):
    """A package ``pkgx`` staged under tmp_path, imported through the worker's finder only
    for the test (sys.path, sys.meta_path and sys.modules put back after)."""
    pkg = tmp_path / "pkgx"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text("VALUE = 41 + 1\n\ndef where():\n    raise ValueError('here')\n")
    (pkg / "broken.py").write_text("def f(:\n")
    saved_path, saved_meta = list(sys.path), list(sys.meta_path)
    sys.path.insert(0, str(tmp_path))
    yield pkg
    sys.path[:], sys.meta_path[:] = saved_path, saved_meta
    for name in [n for n in sys.modules if n == "pkgx" or n.startswith("pkgx.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def test_precompiled_package_is_imported_from_its_code_objects(package):
    finder = precompiled.Precompiled("pkgx", package)
    assert set(finder.codes) == {str(package / "__init__.py"), str(package / "good.py")}
    sys.meta_path.insert(0, finder)
    good = importlib.import_module("pkgx.good")
    assert isinstance(good.__spec__.loader, precompiled.CodeLoader)
    assert good.VALUE == 42 and good.__file__ == str(package / "good.py")
    # the code object is the one compiled before forking, not a fresh compile
    assert good.where.__code__ in finder.codes[str(package / "good.py")][1].co_consts
    with pytest.raises(ValueError) as err:   # tracebacks still point into the student's file
        good.where()
    assert err.traceback[-1].path == package / "good.py"


def test_a_module_that_does_not_compile_fails_at_its_own_import(package):
    sys.meta_path.insert(0, precompiled.Precompiled("pkgx", package))
    with pytest.raises(SyntaxError) as err:
        importlib.import_module("pkgx.broken")
    assert err.value.filename == str(package / "broken.py") and err.value.lineno == 1
    assert importlib.import_module("pkgx.good").VALUE == 42   # the others still import


def test_a_file_rewritten_after_compiling_is_compiled_again(package):
    finder = precompiled.Precompiled("pkgx", package)
    sys.meta_path.insert(0, finder)
    path = package / "good.py"
    st = path.stat()
    path.write_text("VALUE = 7\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    importlib.invalidate_caches()
    good = importlib.import_module("pkgx.good")
    assert good.VALUE == 7 and not isinstance(good.__spec__.loader, precompiled.CodeLoader)


def test_other_packages_are_left_to_the_normal_finders(package):
    finder = precompiled.Precompiled("pkgx", package)
    assert finder.find_spec("json") is None and finder.find_spec("pkgxy") is None


def test_the_worker_serves_the_submission_precompiled(tmp_path):
    """Through a real worker (unsandboxed: this is about the worker, not its layers): the
    graded module a forked test imports was loaded by the precompiled loader."""
    from pathlib import Path

    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests
    from autograder.engine.batch import temp_kit
    from autograder.engine.intake import load_submission
    from autograder.engine.runners import SandboxedRunner
    from autograder.engine.staging import public_kit, stage

    a2 = asg.get("a2")
    sub_dir = tmp_path / "sub"
    sub_dir.mkdir()
    for f in a2.graded_files:
        (sub_dir / f).write_bytes((a2.solution_dir / f).read_bytes())
    (sub_dir / "layers.py").write_text(
        "def embedding_forward(x, W):\n"
        "    raise RuntimeError(f'loaded by {type(__spec__.loader).__name__}')\n")
    test = [t for t in load_tests(a2.name, include_hidden=False)
            if t.name == "embedding.forward_backward"]
    staged = stage(load_submission(sub_dir, a2), a2, tmp_path / "stage")
    with temp_kit() as kit:
        public_kit(Path(kit))
        run = SandboxedRunner(a2.name, Path(kit), sandboxed=False).run(staged, test).runs[0]
    assert run.status == "error" and run.error["message"] == "loaded by CodeLoader", run


@pytest.fixture
def torch_snapshot():
    """The worker's tamper snapshot taken here, with torch imported (not torch._dynamo); the
    snapshot and torch.manual_seed put back after."""
    torch = pytest.importorskip("torch")
    saved, seed = list(worker._SNAPSHOT), torch.manual_seed
    worker._SNAPSHOT[:] = [s for s in worker._snapshot() if s[0] == "torch"]
    dynamo_deferral.note_wrapper()
    yield torch
    torch.manual_seed = seed
    worker._SNAPSHOT[:] = saved
    dynamo_deferral._WRAPPER[:] = []


def test_torchs_own_dynamo_rewrap_of_manual_seed_is_not_tampering(torch_snapshot):
    torch = torch_snapshot
    original = torch.manual_seed
    # what `import torch._dynamo` does (the first optimizer step imports it), without the 2 s
    torch.manual_seed = torch._disable_dynamo(original)
    assert worker._tampered() == []


def test_other_replacements_of_manual_seed_are_tampering(torch_snapshot):
    torch = torch_snapshot
    torch.manual_seed = lambda seed: None
    assert worker._tampered() == ["torch.manual_seed"]
    # the same wrapper around another function is a replacement too
    torch.manual_seed = torch._disable_dynamo(lambda seed: None)
    assert worker._tampered(restore=True) == ["torch.manual_seed"]
    assert worker._tampered() == []     # restored


def test_a_costly_preload_is_only_for_runs_of_its_scenarios():
    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests

    a5 = asg.get("a5")
    tests = load_tests(a5.name, include_hidden=False)
    costly = [t for t in tests if a5.costly_for(t)]
    assert {t.scenario for t in costly} <= set(dict(a5.preload_when)["torch"]) and costly
    assert "torch" in a5.preload_for(tests) and "torch" in a5.preload_for()
    assert "torch" in a5.preload_for(costly[:1])
    rest = [t for t in tests if not a5.costly_for(t)]
    assert rest and "torch" not in a5.preload_for(rest) and "numpy" in a5.preload_for(rest)


def test_long_tests_start_first_on_a_checks_workers():
    """The seeded sampling tests (LONG_SCENARIOS) and the real-corpus ones (WARM_WHEN) are
    taken first, in the declared order; the others after them, in the declared order."""
    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests
    from autograder.engine.pool import TestPool

    for name in ("a1", "a2", "a3", "a4"):
        a = asg.get(name)
        tests = load_tests(a.name, include_hidden=False)
        first = [a.starts_first(t) for t in tests]
        assert any(t.scenario in a.long_scenarios for t in tests), name
        pool = TestPool(tests, first=first)
        order = [pool.take(frozenset()) for _ in tests]
        k = sum(first)
        assert 0 < k < len(tests)
        assert all(first[i] for i in order[:k]) and not any(first[i] for i in order[k:])
        assert order[:k] == sorted(order[:k]) and order[k:] == sorted(order[k:])


_TORCHLESS = r"""
import json, sys, tempfile
from pathlib import Path
from autograder.authoring import registry
from autograder.authoring.declare import load_tests
from autograder.engine.runners import InProcessRunner
from autograder.engine.staging import reference_submission, stage
a = registry.get(sys.argv[1])
tests = [t for t in load_tests(a.name) if "torch" not in a.preload_for([t])]
st = stage(reference_submission(a), a, Path(tempfile.mkdtemp()), base=a.solution_dir)
runs = InProcessRunner(a.name).run(st, tests).runs
print(json.dumps({"tests": len(tests), "oracle": sum(t.oracle for t in tests),
                  "failed": [r.name for r in runs if r.status != "ok"],
                  "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch")[:3]}))
"""


@pytest.mark.parametrize("name", ["a3_rnn", "a5_attention"])
def test_a_submissions_worker_needs_torch_only_where_declared(name):
    """A worker starts without torch (1-3 s of CPU) unless one of its tests is declared to
    need it (PRELOAD_WHEN): a3's and a5's numpy tests, their comparisons with torch autograd
    included (oracle tests: torch runs in the reference's run only), must run the
    submission's side of every such test without ever importing torch, or each forked test
    would import it again. Run on the reference, public and hidden, in a fresh process."""
    import json
    import subprocess

    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests

    root = asg.KIT_ROOT
    out = subprocess.run([sys.executable, "-c", _TORCHLESS, name], cwd=root, text=True,
                         capture_output=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["tests"] > 10 and got["oracle"] > 0, got
    assert not got["failed"], got
    assert not got["torch"], f"{name}: a test not declared to need torch imported it: {got}"
    a = asg.get(name)
    assert "torch" not in a.preload and "torch" in a.preload_for(load_tests(name), reference=True)


# -- a submission's tests on several workers at once (check) ---------------------------------
def _names(n):
    from autograder.authoring.declare import Test
    return [Test(name=f"t{i}", part="p", points=1, scenario="s", judge=None) for i in range(n)]


def test_pool_gives_each_worker_only_what_it_preloaded():
    from autograder.engine.pool import TestPool

    dyn = frozenset({"torch"})
    pool = TestPool(_names(5), [frozenset(), dyn, frozenset(), dyn, frozenset()],
                    first=[False, False, False, False, True])
    plain, full = frozenset({"numpy"}), frozenset({"numpy"}) | dyn
    assert pool.take(plain) == 4          # the heavy (first) ones before the declared order
    assert pool.take(full) == 1           # what only it can run, before the rest
    assert pool.take(plain) == 0
    assert pool.take(full) == 3
    assert pool.take(full) == 2
    assert pool.take(plain) is None and pool.take(full) is None
    pool = TestPool(_names(2))
    pool.stop()
    assert pool.take(frozenset()) is None


def test_check_workers_leave_the_costly_preload_to_the_first():
    from pathlib import Path

    from autograder.authoring import registry as asg
    from autograder.authoring.declare import load_tests
    from autograder.engine.runners import ParallelRunner

    a5 = asg.get("a5")
    tests = load_tests(a5.name, include_hidden=False)
    cfgs = ParallelRunner(a5, Path("kit"), workers=3).configs(tests)
    assert [c.slot for c in cfgs] == [0, 1, 2]
    assert "torch" in cfgs[0].preload
    assert all("torch" not in c.preload and "numpy" in c.preload for c in cfgs[1:])
    assert len(ParallelRunner(a5, Path("kit"), workers=3).configs(tests[:1])) == 1


@pytest.fixture(scope="module")
def a2_checks(tmp_path_factory):
    """a2's check of the stubs and of two example submissions, on one worker and on two."""
    from autograder.authoring import registry as asg
    from autograder.instructor.examples import list_examples, materialize
    from autograder.student.check import run_check

    a2 = asg.get("a2")
    by_name = {ex.name: ex for ex in list_examples(a2)}
    subs = {"stubs": a2.stub_dir}
    for name in ("bias_not_summed", "partial"):
        subs[name] = materialize(by_name[name], a2, tmp_path_factory.mktemp(name))
    return {name: {w: run_check(a2, path, workers=w) for w in (1, 2)}
            for name, path in subs.items()}


def test_check_on_two_workers_gives_the_one_worker_results(a2_checks):
    for name, by_workers in a2_checks.items():
        one, two = (by_workers[w] for w in (1, 2))
        assert [t.name for t in two.tests] == [t.name for t in one.tests], name  # declared order
        assert [(t.score, t.status, t.kind, t.feedback) for t in two.tests] == \
               [(t.score, t.status, t.kind, t.feedback) for t in one.tests], name
        assert two.layers == one.layers and two.score == one.score, name
    assert a2_checks["partial"][1].score > 0 and any(
        not t.passed for t in a2_checks["partial"][1].tests)


@pytest.mark.parametrize("cores, load, running, workers", [
    (2, 0.3, 1, 2), (2, 1.2, 3, 1), (2, 7.5, 9, 1), (16, 0.0, 1, 4), (1, 0.0, 1, 1),
    (None, 0.0, 1, 1),
    (2, 1.4, 1, 2),      # the minute's average of the last check's own workers: nothing runs now
    (2, 1.4, None, 1),   # no /proc/loadavg: the average alone
    (4, 2.5, 2, 3),      # one other process running now, though the average says two
])
def test_check_uses_the_idle_cores(monkeypatch, cores, load, running, workers):
    from autograder.engine import batch

    monkeypatch.delenv("LMKIT_CHECK_WORKERS", raising=False)
    monkeypatch.setattr(batch.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(batch.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(batch, "_running_now", lambda: running)
    assert batch.check_workers() == workers


def test_the_running_count_is_read_from_proc():
    from autograder.engine import batch

    now = batch._running_now()
    assert now is None or now >= 1     # at least this process, where Linux has the file


# -- the parsed corpus a worker on the real split loads instead of tokenizing the plays -------
def test_the_parsed_corpus_is_lmcores_parse_and_lies_where_the_scenarios_look(tmp_path):
    import marshal
    from pathlib import Path

    from autograder.engine import staging
    from autograder.suites.a1_ngram import scenarios
    from lmcore import corpus

    path = staging.corpus_cache()
    assert path is not None and path == staging.corpus_cache()       # made once
    plays = marshal.loads(path.read_bytes())
    assert plays == {name: corpus._play_sentences(name) for name in corpus.play_files()}
    kit = staging.public_kit(tmp_path / "kit", corpus=True)
    assert (kit / staging.CORPUS_FILE).read_bytes() == path.read_bytes()
    assert scenarios._CORPUS_FILE == staging.CORPUS_FILE
    copied = kit / Path(scenarios.__file__).relative_to(Path(staging.KIT_ROOT))
    assert copied.is_file() and copied.resolve().parents[3] == kit.resolve()
    assert not (staging.public_kit(tmp_path / "plain") / staging.CORPUS_FILE).exists()


def test_the_real_split_from_the_parsed_corpus_is_the_one_parsed_here(monkeypatch):
    import marshal

    from autograder.engine import staging
    from autograder.suites.a1_ngram import scenarios

    scenarios._shakespeare.cache_clear()
    monkeypatch.setattr(scenarios, "_parsed_plays", lambda: None)
    parsed = scenarios._shakespeare()
    scenarios._shakespeare.cache_clear()
    cached = marshal.loads(staging.corpus_cache().read_bytes())
    monkeypatch.setattr(scenarios, "_parsed_plays", lambda: cached)
    loaded = scenarios._shakespeare()
    scenarios._shakespeare.cache_clear()
    assert loaded[:3] == parsed[:3] and all(type(s) is list for s in loaded[0][:5])
    assert loaded[3].itos == parsed[3].itos and loaded[3].counts == parsed[3].counts


def test_a_fixed_check_worker_count_wins_and_a_bad_one_is_refused(monkeypatch):
    from autograder.engine import batch
    from autograder.errors import UsageError

    monkeypatch.setattr(batch.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    monkeypatch.setenv("LMKIT_CHECK_WORKERS", "2")
    assert batch.check_workers() == 2
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("LMKIT_CHECK_WORKERS", bad)
        with pytest.raises(UsageError, match="LMKIT_CHECK_WORKERS=.*expected a number"):
            batch.check_workers()
