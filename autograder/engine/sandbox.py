"""Isolation layers around a worker, each used where this machine offers it.

From the outside in (docs/design.md, "Grading untrusted code"):

  bwrap     new mount, PID, network, IPC and UTS namespaces; the filesystem is a whitelist
            (system dirs, the Python install and venv, the public kit, the submission, its
            output folder), so solutions/, hidden suites, results and other submissions do not
            exist inside; no network at all.
  uid       as root: an unprivileged uid per live worker, claimed machine-wide (an abstract
            socket named after the uid is its lock, so two batches on one machine never share a
            uid and never kill each other's workers); setpriv, groups cleared, no_new_privs:
            nothing root-owned is readable and kill(-1) reaches only this worker's processes.
            Not root: bubblewrap runs unprivileged in a user namespace (student code sees uid
            61000, holds no capability, and its PID namespace holds all it can signal), so the
            uid drop is not needed; without bubblewrap student code runs as the grader's user.
  cgroup    memory and pids limits for the worker's whole tree (a fork bomb or a memory bomb is
            stopped even across processes): cgroup v1 (memory/, pids/) where it is writable,
            else a delegated cgroup v2 subtree (memory.max, pids.max, cgroup.kill); see
            ``cgroup_backend`` and containment.py (the cgroups, and killing the whole tree).
  rlimits   per test, in the worker's child: CPU seconds, address space, file size, open files,
            processes (the last only after the uid drop: root ignores it).
  process   always: a fresh process, `python -I`, a scrubbed environment, a fresh working
            directory, a wall-clock limit enforced by the parent.

A layer the machine lacks degrades to the next; ``Layers.active`` is written into every
report, and ``strict`` refuses to grade without bwrap and the uid drop (or its user-namespace
equivalent). ``LMKIT_SANDBOX_LAYERS=-bwrap,-uid,-cgroup,-fork`` switches layers off on purpose
(CI proves the degraded expectations that way; ``-fork`` forces the no-fork runner that macOS
and Windows use); ``doctor`` reports it.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.engine.containment import (  # noqa: F401 - re-exported: the sandbox's API
    CGROUP_ROOT, CGROUP_V2_ENV, CgroupV1, CgroupV2, _v2_candidates, cgroup_create,
    cgroup_join_fn, cgroup_oom_killed, cgroup_pids, cgroup_remove, kill_all, session_pids,
    uid_pids)
from autograder.errors import KitError

UID_BASE = 61000          # workers run as uid/gid UID_BASE + k, k claimed by claim_uid
UID_RANGE = 4096
LAYERS_ENV = "LMKIT_SANDBOX_LAYERS"   # e.g. "-bwrap" or "-bwrap,-cgroup": layers switched off
SWITCHABLE = ("bwrap", "uid", "cgroup", "fork")


def switched_off() -> set[str]:
    """Layers switched off by ``LMKIT_SANDBOX_LAYERS`` (``-bwrap,-cgroup``)."""
    raw = os.environ.get(LAYERS_ENV, "")
    off = set()
    for item in raw.replace(" ", "").split(","):
        if not item:
            continue
        name = item.lstrip("-")
        if not item.startswith("-") or name not in SWITCHABLE:
            raise KitError(f"{LAYERS_ENV}={raw!r}: each item is -<layer>, a layer one of "
                           f"{', '.join(SWITCHABLE)} (e.g. {LAYERS_ENV}=-bwrap); unset it to use "
                           "every layer this machine offers")
        off.add(name)
    return off


def fork_per_test() -> bool:
    """Tests run in a forked child of the worker (Linux); elsewhere (macOS: fork is unsafe with
    numpy/Accelerate; Windows: no fork) each test gets a fresh worker process instead."""
    return hasattr(os, "fork") and sys.platform.startswith("linux") and "fork" not in switched_off()


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048       # per test (address space above what the worker has mapped)
    worker_memory_mb: int = 6144  # cgroup: the worker's whole tree
    pids: int = 128
    fsize_mb: int = 64
    nofile: int = 256
    tmpfs_mb: int = 64          # the sandbox's /tmp and working folder (memory, in the cgroup)
    disk_mb: int = 512          # everything a worker leaves in its output folder on the host
    # wall-clock seconds for all of one submission's tests; None: the assignment's BUDGET_S
    # (suites/<a>/__init__.py), else DEFAULT_BUDGET_S. Tests left when it runs out fail.
    budget_s: float | None = None


DEFAULT_BUDGET_S = 300.0   # half of Gradescope's 10 minutes


@dataclass
class Layers:
    """What is active for one worker; names go into reports."""
    bwrap: bool = False
    uid: int | None = None       # root: the host uid the worker drops to (setpriv)
    cgroup: Path | None = None   # name of the worker's cgroup (under the backend's root)
    notes: list[str] = field(default_factory=list)
    uid_lock: object = None      # the socket that holds ``uid`` for this process (claim_uid)
    userns: bool = False         # not root: bwrap in a user namespace, uid NS_UID inside
    cgroup_backend: object = None  # CgroupV1 | CgroupV2 when ``cgroup`` is set
    fork: bool = True            # tests in forked children (else a fresh worker per test)

    @property
    def active(self) -> list[str]:
        names = ["subprocess", "python -I", "scrubbed env", "fresh dir", "wall-clock timeout",
                 "rlimits"]
        if not self.fork:
            names.append("fresh worker process per test")
        if self.bwrap:
            names.append("bwrap namespaces (mount, pid, net, ipc, uts)")
        if self.uid is not None:
            names.append("unprivileged uid per worker slot")
        if self.userns:
            names.append(f"user namespace (unprivileged bwrap, uid {NS_UID} inside)")
        if self.cgroup is not None:
            kind = getattr(self.cgroup_backend, "kind", "v1")
            names.append(f"cgroup {kind} memory+pids")
        return names

    @property
    def short(self) -> set[str]:
        return short_names(self.active)


NS_UID = 61000  # the uid student code sees inside an unprivileged bwrap (user namespace)


def short_names(active: list[str]) -> set[str]:
    """The layer names hostile manifests use ("stopped_by") for a report's layer list:
    bwrap, uid (a uid that owns nothing of the grader's: the root drop or the user namespace),
    cgroup, rlimits, process (always)."""
    have = {"process"}
    for name in active:
        if name.startswith("rlimits"):
            have.add("rlimits")
        elif name.startswith("bwrap namespaces"):
            have.add("bwrap")
        elif name.startswith(("unprivileged uid", "user namespace")):
            have.add("uid")
        elif name.startswith("cgroup v"):
            have.add("cgroup")
    return have


# What each layer that can be missing costs: the attacks that get through without it.
WITHOUT = {
    "bwrap": "student code can read solutions/, hidden suites and other submissions, and reach "
             "the network",
    "uid": "student code runs as the grader's own user: it can read what the grader reads, "
           "and signal the grader's processes",
    "cgroup": "a fork bomb or a memory bomb spread over processes is bounded only by rlimits",
}


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def bwrap_works() -> bool:
    """bubblewrap is installed, works here (as root, or unprivileged through a user namespace),
    and is not switched off by LMKIT_SANDBOX_LAYERS=-bwrap."""
    return "bwrap" not in switched_off() and _bwrap_probe()


@functools.lru_cache(maxsize=None)
def _bwrap_probe() -> bool:
    exe = shutil.which("bwrap")
    if not exe or not sys.platform.startswith("linux"):
        return False
    cmd = [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc",
           "--dev", "/dev", "true"]
    if not is_root():
        cmd[1:1] = ["--unshare-user", "--uid", str(NS_UID), "--gid", str(NS_UID)]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def bwrap_missing_reason() -> str:
    """Why bwrap_works() is False, in words (for doctor and setup)."""
    if "bwrap" in switched_off():
        return f"switched off by {LAYERS_ENV}"
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    if not shutil.which("bwrap"):
        return "not installed"
    if not is_root():
        return ("installed but cannot create a user namespace (enable them: sysctl "
                "kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ allow bwrap in AppArmor)")
    return "installed but does not start (a container without namespaces?)"


def setpriv_path() -> str | None:
    if "uid" in switched_off():
        return None
    return _setpriv()


@functools.lru_cache(maxsize=None)
def _setpriv() -> str | None:
    return shutil.which("setpriv") if is_root() else None


def cgroups_available() -> bool:
    """A cgroup (v1 or delegated v2) this process can create worker cgroups in."""
    return cgroup_backend() is not None


def available_layers() -> list[str]:
    b = cgroup_backend()
    bw = bwrap_works()
    # as plan() decides: no uid drop where the dropped uid could not start the interpreter
    drop = setpriv_path() and (bw or all(world_traversable(r) for r in python_roots()))
    return Layers(bwrap=bw, uid=UID_BASE if drop else None,
                  userns=bw and not is_root(), fork=fork_per_test(),
                  cgroup=Path("x") if b else None, cgroup_backend=b).active


def missing_layers() -> list[tuple[str, str, str]]:
    """(layer, what that costs, the fix) for each layer this machine lacks."""
    have = short_names(available_layers())
    out = []
    if "bwrap" not in have:
        why = bwrap_missing_reason()
        fix = ("unset " + LAYERS_ENV if "switched off" in why else
               "apt-get install -y bubblewrap (or python3 kit.py setup as root)"
               if why == "not installed" else why)
        out.append(("bwrap", f"{why}: {WITHOUT['bwrap']}", fix))
    if "uid" not in have:
        if "uid" in switched_off():
            fix = "unset " + LAYERS_ENV
        elif is_root() and _setpriv():
            blocked = next((r for r in python_roots() if not world_traversable(r)), None)
            fix = (f"install bubblewrap (without it the worker uid cannot start the interpreter "
                   f"in {blocked}: a folder other users cannot enter), or use a Python installed "
                   "where every user can read it")
        elif is_root():
            fix = "install util-linux (setpriv)"
        else:
            fix = "install bubblewrap (it runs unprivileged here through a user namespace)"
        out.append(("uid", WITHOUT["uid"], fix))
    if "cgroup" not in have:
        fix = ("unset " + LAYERS_ENV if "cgroup" in switched_off() else
               "run as root with cgroup v1, or give this user a delegated cgroup v2 subtree "
               "with memory and pids (systemd-run --user --scope -p Delegate=yes ...)")
        out.append(("cgroup", WITHOUT["cgroup"], fix))
    return out


class StrictRefused(KitError):
    pass


def claim_uid(slot: int = 0):
    """A uid no other live worker on this machine uses, and the lock that holds it.

    The lock is an abstract unix socket named after the uid: binding it is atomic, it lives in
    no file system (nothing to clean up), and the kernel frees it when this process dies. A
    fixed uid per slot is not enough: two batches at once (a verify beside a grade) would run
    their workers as the same uid, and each one's kill-everything-of-this-uid would kill the
    other's workers."""
    import socket
    for k in range(UID_RANGE):
        uid = UID_BASE + (slot + k) % UID_RANGE
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(f"\0lmkit-uid-{uid}")
            return uid, s
        except OSError:
            s.close()
    raise RuntimeError(f"no free worker uid in {UID_BASE}..{UID_BASE + UID_RANGE - 1}")


def release(layers: Layers) -> None:
    if layers.uid_lock is not None:
        layers.uid_lock.close()
        layers.uid_lock = None


_CGROUP_SEQ = __import__("itertools").count()


def plan(slot: int, strict: bool = False) -> Layers:
    layers = Layers(bwrap=bwrap_works(), fork=fork_per_test())
    if layers.bwrap and not is_root():
        layers.userns = True
    elif setpriv_path() and (layers.bwrap or all(world_traversable(r) for r in python_roots())):
        layers.uid, layers.uid_lock = claim_uid(slot)
    elif setpriv_path():
        layers.notes.append("no bubblewrap and the interpreter lives in a folder other users "
                            "cannot enter: the uid drop is off")
    backend = cgroup_backend()
    if backend is not None:
        # unique per worker: two graders in one process may both use slot 0
        layers.cgroup = Path(f"lmkit-{os.getpid()}-{slot}-{next(_CGROUP_SEQ)}")
        layers.cgroup_backend = backend
    else:
        layers.notes.append("no writable cgroup (v1 or delegated v2): memory and process "
                            "limits are per process only (rlimits)")
    if not layers.bwrap:
        layers.notes.append(f"bubblewrap unavailable ({bwrap_missing_reason()}): no namespaces, "
                            "no network cut (install it: apt-get install -y bubblewrap)")
    if layers.uid is None and not layers.userns:
        layers.notes.append("student code runs as the grader's own user"
                            + (" (not root, no bubblewrap)" if not is_root() else ""))
    if strict and (not layers.bwrap or (layers.uid is None and not layers.userns)):
        raise StrictRefused("--strict: refusing to grade without bubblewrap and an unprivileged "
                            "uid; run as root on Linux with bubblewrap installed "
                            "(apt-get install -y bubblewrap), or drop --strict. Missing: "
                            + "; ".join(layers.notes))
    return layers


def cgroup_backend():
    """CgroupV1 where v1 memory and pids are writable, else a usable CgroupV2, else None
    (also when switched off with LMKIT_SANDBOX_LAYERS=-cgroup)."""
    if "cgroup" in switched_off():
        return None
    return CgroupV1.find() or CgroupV2.find()



# -- the command -------------------------------------------------------------------------
SCRUBBED_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}


def world_traversable(path: Path) -> bool:
    """Can any user reach ``path``? (every folder on the way has o+x)"""
    for p in [path, *path.parents]:
        try:
            if not p.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def python_roots() -> list[Path]:
    """Folders the worker's interpreter needs: the venv and the base install it points to."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent}
    # A venv reached through a symlink (a worktree's .venv -> the main checkout's) is started
    # by its unresolved path, so that path must exist inside the sandbox too.
    roots.add(Path(os.path.abspath(sys.prefix)))
    return sorted(roots)


def command(python_argv: list[str], layers: Layers, kit: Path, stage: Path, out: Path,
            cwd: Path, limits: Limits | None = None) -> list[str]:
    """The full argv: bwrap (if any) -> setpriv (if root) -> python -I worker."""
    argv = list(python_argv)
    if layers.uid is not None:
        argv = [setpriv_path(), f"--reuid={layers.uid}", f"--regid={layers.uid}",
                "--clear-groups", "--no-new-privs", "--"] + argv
    if not layers.bwrap:
        return argv
    b = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
         "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if layers.userns:
        b += ["--unshare-user", "--uid", str(NS_UID), "--gid", str(NS_UID)]
    for d in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc/alternatives",
              "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/passwd", "/etc/group", "/sys/devices/system/cpu"):
        if os.path.lexists(d):
            b += ["--ro-bind", d, d]
    # /tmp and the working folder are small tmpfs mounts (charged to the cgroup): a student
    # who writes file after file fills them, not the grader's disk. Only out/ reaches the host,
    # and driver.py watches its size.
    tmpfs = ["--perms", "1777", "--size", str((limits or Limits()).tmpfs_mb * 2**20), "--tmpfs"]
    b += ["--proc", "/proc", "--dev", "/dev", *tmpfs, "/tmp"]
    mounted: set[str] = set()

    def ensure_parents(target: Path):
        for parent in reversed(target.parents):
            p = str(parent)
            if p in ("/",) or p in mounted:
                continue
            mounted.add(p)
            b.extend(["--perms", "0755", "--dir", p])

    for root in python_roots():
        ensure_parents(root)
        b += ["--ro-bind", str(root), str(root)]
        mounted.add(str(root))
    for src, rw in ((kit, False), (stage, False), (out, True)):
        ensure_parents(src)
        b += ["--bind" if rw else "--ro-bind", str(src), str(src)]
        mounted.add(str(src))
    ensure_parents(cwd)
    b += [*tmpfs, str(cwd)]
    b += ["--chdir", str(cwd), "--"]
    return b + argv
