"""The cluster's nodes: the kit fingerprint and environment every Dask worker must share with this
machine, checked when connecting; shipping the kit to them (--ship-kit)."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.authoring import registry
from autograder.engine import sandbox
from autograder.errors import KitError, UsageError

# What a grading node needs of the kit, and what its fingerprint covers.
KIT_DIRS = ("autograder", "lmcore", "assignments", "solutions")
KIT_FILES = ("pyproject.toml", "requirements.txt")
SKIP_NAMES = ("__pycache__", ".cache", ".pytest_cache")
ENV_PACKAGES = ("numpy", "torch", "dask", "distributed")
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT = 60.0      # for the first worker to join
SCHEDULER_TIMEOUT = 15.0    # for the scheduler to answer


class ClusterUnavailable(KitError):
    """dask is not installed, or the cluster cannot be reached."""


class KitMismatch(KitError):
    """A worker runs another kit, other sandbox layers or another environment."""


class ClusterLost(KitError):
    """The scheduler went away in the middle of a batch."""


# -- what a node is ------------------------------------------------------------------------
def _kit_files(root: Path) -> list[Path]:
    files = [root / f for f in KIT_FILES if (root / f).is_file()]
    for d in KIT_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = sorted(n for n in dirnames if n not in SKIP_NAMES)
            files += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc")]
    return files


def kit_fingerprint(root: Path | None = None) -> str:
    """A hash over the kit's code and data (autograder/ with the suites and their expected
    outputs, lmcore/, assignments/, solutions/), by path relative to the kit and content."""
    root = Path(root or registry.KIT_ROOT)
    h = hashlib.sha256()
    for f in _kit_files(root):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def environment() -> dict[str, str]:
    env = {"python": platform.python_version()}
    for name in ENV_PACKAGES:
        try:
            env[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            env[name] = "missing"
    return env


def node_info() -> dict[str, Any]:
    """What a node is: run on every Dask worker at connect time (and here, to compare)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "kit": str(registry.KIT_ROOT),
            "fingerprint": kit_fingerprint(), "layers": sandbox.available_layers(),
            "env": environment()}


def compare_nodes(here: dict, workers: dict[str, dict], strict: bool = False) -> list[str]:
    """One line per way a worker differs, saying what and how to fix it. The kit and the
    environment must be this machine's; the sandbox layers must be the same on every worker
    and include every layer this machine has (a node may not grade in a weaker sandbox
    than the local pool would); ``strict`` also needs bubblewrap and the uid drop there."""
    problems = []
    theirs = [tuple(info.get("layers", [])) for _, info in sorted(workers.items())]
    for addr, info in sorted(workers.items()):
        where = f"worker {addr} (host {info.get('host')}, kit {info.get('kit')})"
        if info.get("fingerprint") != here["fingerprint"]:
            problems.append(
                f"{where}: kit fingerprint {info.get('fingerprint')} differs from this "
                f"machine's {here['fingerprint']} (kit {here['kit']}): start the worker from "
                "a checkout of the same commit with the same edits, or pass --ship-kit to "
                "upload this kit to every worker")
        layers = list(info.get("layers", []))
        missing = [x for x in here["layers"] if x not in layers]
        others = [x for x in theirs[0] if x not in layers] + \
                 [x for x in layers if x not in theirs[0]]
        weak = strict and not any(x.startswith("bwrap") for x in layers) or \
            strict and not any(x.startswith("unprivileged uid") for x in layers)
        if missing or others or weak:
            problems.append(
                f"{where}: sandbox layers {layers}: "
                + (f"lacks {missing}, which this machine has; " if missing else "")
                + (f"other workers differ in {sorted(set(others))}; " if others else "")
                + ("--strict needs bubblewrap and the uid drop; " if weak else "")
                + "run every node the same way (as root, with bubblewrap: apt-get install -y "
                "bubblewrap, cgroup v1) and check with `python -m autograder doctor` there")
        if info.get("env") != here["env"]:
            diff = {k: (here["env"].get(k), info.get("env", {}).get(k))
                    for k in sorted(set(here["env"]) | set(info.get("env", {})))
                    if here["env"].get(k) != info.get("env", {}).get(k)}
            problems.append(
                f"{where}: environment differs (here, there): {diff}: install the same "
                "requirements.txt with requirements.lock as constraints on the node "
                "(`python3 kit.py setup`)")
    return problems


# -- connecting ----------------------------------------------------------------------------
def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ClusterUnavailable(
            f"--cluster needs dask distributed ({err}): install it with "
            "`python -m pip install 'lmkit[cluster]'` or `python -m pip install "
            "'dask[distributed]'` (requirements.txt pins it), or grade without --cluster") \
            from None
    return distributed


@dataclass
class Cluster:
    """A connected client (and the LocalCluster it started, if any)."""
    client: Any
    local: Any = None
    address: str = ""
    here: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    allowed_failures: int | None = None

    @property
    def dashboard(self) -> str | None:
        try:
            link = self.client.dashboard_link
        except Exception:
            return None
        return link or None

    def describe(self) -> str:
        n = len(self.workers)
        threads = sum(self.client.nthreads().values()) if self.workers else 0
        return f"Dask cluster {self.address}: {n} worker(s), {threads} thread(s)"

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.local is not None:
                self.local.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_local(address: str) -> int | None:
    """``local:N`` -> N (``local`` alone: 2); anything else -> None."""
    if address == "local":
        return 2
    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"--cluster {address}: write local:N with N >= 1 worker processes")
        return n
    return None


def connect(address: str, *, ship_kit: bool = False, retries: int = DEFAULT_RETRIES,
            strict: bool = False,
            wait_workers: int = 1, timeout: float = CONNECT_TIMEOUT) -> Cluster:
    """Connect to ``address`` (tcp://host:port, a scheduler file, or local:N), check every
    worker against this machine (KitMismatch), and return the Cluster."""
    distributed = _distributed()
    import dask
    n_local = parse_local(address)
    local = None
    try:
        if n_local is not None:
            # the scheduler's own retries off: every retry after a dead worker is ours
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                local = distributed.LocalCluster(
                    n_workers=n_local, threads_per_worker=1, processes=True,
                    host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                    silence_logs=40)
            client = distributed.Client(local, timeout=SCHEDULER_TIMEOUT)
        elif os.path.isfile(address):
            client = distributed.Client(scheduler_file=address, timeout=SCHEDULER_TIMEOUT)
        else:
            client = distributed.Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as err:
        if local is not None:
            local.close()
        raise ClusterUnavailable(
            f"--cluster {address}: cannot reach the Dask scheduler ({type(err).__name__}: "
            f"{err}); start it (`dask scheduler`, see docs/cluster.md) and check the address "
            "(tcp://HOST:8786, or the path of its --scheduler-file)") from None
    cl = Cluster(client, local, address)
    try:
        try:
            client.wait_for_workers(wait_workers, timeout=timeout)
        except (TimeoutError, OSError):
            raise ClusterUnavailable(
                f"--cluster {address}: no Dask worker joined within {timeout:.0f} s; start "
                "workers (`dask worker ADDRESS`, see docs/cluster.md)") from None
        cl.here = node_info()
        if ship_kit:
            upload_kit(client, cl.here["fingerprint"])
        replies = client.run(node_info, on_error="return")
        cl.workers = {a: r for a, r in replies.items() if isinstance(r, dict)}
        problems = [
            f"worker {a} cannot load the kit ({type(r).__name__}: {r}): start it with the "
            "kit on its path (cd /srv/lmkit && PYTHONPATH=/srv/lmkit dask worker ...), or "
            "pass --ship-kit to upload this kit to every worker"
            for a, r in sorted(replies.items()) if not isinstance(r, dict)]
        problems += compare_nodes(cl.here, cl.workers, strict)
        try:  # the scheduler unpickles the tasks: it needs the kit importable too
            client.run_on_scheduler(eval, _KIT_ROOT_PROBE)
        except Exception as err:
            problems.append(
                f"the scheduler cannot load the kit ({type(err).__name__}: {err}), and it "
                "must, to read the tasks: start it with the kit on its path "
                "(PYTHONPATH=/srv/lmkit dask scheduler ...), or pass --ship-kit")
        if problems:
            raise KitMismatch("refusing to grade on this cluster:\n  " + "\n  ".join(problems))
        try:  # the scheduler may not have the kit: ask with dask's own function
            cl.allowed_failures = 0 if local is not None else client.run_on_scheduler(
                dask.config.get, "distributed.scheduler.allowed-failures")
        except Exception:
            cl.allowed_failures = None
    except BaseException:
        cl.close()
        raise
    return cl


# on a worker: where its kit is, without importing anything of the kit by reference (a
# worker without the kit could not even unpickle a function of autograder's)
_KIT_ROOT_PROBE = ("__import__('autograder.authoring.registry').authoring.registry"
                   ".KIT_ROOT.as_posix()")


def upload_kit(client, fingerprint: str) -> None:
    """Copy what a node needs of this kit (KIT_DIRS, KIT_FILES) to every worker and to the
    scheduler (which unpickles the tasks) with Dask's UploadDirectory plugin: it is unpacked
    as ``lmkit-<fingerprint>/`` in each nanny's local folder, put first on the worker's
    sys.path, and the workers restart onto it; workers that join later get it too (the
    scheduler keeps the plugin). Needs
    workers started with a nanny (the default of ``dask worker``) and the same environment
    (venv) on every node. Returns when every worker runs the uploaded kit (or after
    CONNECT_TIMEOUT: the fingerprint check then says which one does not)."""
    from distributed.diagnostics.plugin import UploadDirectory
    root = registry.KIT_ROOT
    name = f"lmkit-{fingerprint}"
    n = len(client.scheduler_info().get("workers", {}))
    with tempfile.TemporaryDirectory(prefix="lmkit-ship-") as tmp:
        dest = Path(tmp) / name
        dest.mkdir()
        for d in KIT_DIRS:
            shutil.copytree(root / d, dest / d,
                            ignore=shutil.ignore_patterns(*SKIP_NAMES, "*.pyc"))
        for f in KIT_FILES:
            if (root / f).is_file():
                shutil.copyfile(root / f, dest / f)
        # UploadDirectory skips any path with a "tests" or "docs" folder in it: none here
        plugin = UploadDirectory(str(dest), restart_workers=True, update_path=True,
                                 skip_words=(".git",) + SKIP_NAMES, mode="all")
        client.register_plugin(plugin)
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while time.monotonic() < deadline:   # the restarts take a moment to be seen
        try:
            roots = client.run(eval, _KIT_ROOT_PROBE, on_error="return")
        except OSError:
            roots = {}
        if len(roots) >= max(1, n) and all(isinstance(r, str) and Path(r).name == name
                                           for r in roots.values()):
            break
        time.sleep(0.2)
    for run in (client.run, client.run_on_scheduler):
        try:
            run(lock_uploaded_kit)
        except Exception:
            pass   # a worker that did not take the kit: the fingerprint check names it


def lock_uploaded_kit() -> bool:
    """On a node: make the uploaded kit (hidden suites, solutions) readable by its owner
    (root) only, so that a sandbox without bubblewrap (the uid drop alone) cannot read it. Returns whether this process runs an uploaded kit."""
    root = registry.KIT_ROOT
    if not root.name.startswith("lmkit-") or root.parent.name != "dask-scratch-space":
        return False
    root.chmod(0o700)
    return True
