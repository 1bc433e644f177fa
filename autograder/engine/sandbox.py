"""Isolation layers around a worker, each used where this machine offers it.

From the outside in (docs/design.md, "Grading untrusted code"):

  bwrap     new mount, PID, network, IPC and UTS namespaces; the filesystem is a whitelist
            (system dirs, the Python install and venv, the public kit, the submission, its
            output folder), so solutions/, hidden suites, results and other submissions do not
            exist inside; no network at all.
  uid       an unprivileged uid per live worker, claimed machine-wide (an abstract socket
            named after the uid is its lock, so two batches on one machine never share a uid
            and never kill each other's workers); setpriv, groups cleared, no_new_privs: nothing
            root-owned is readable and kill(-1) reaches only this worker's processes.
  cgroup    cgroup v1 memory and pids limits for the worker's whole tree (a fork bomb or a
            memory bomb is stopped even across processes).
  rlimits   per test, in the worker's child: CPU seconds, address space, file size, open files,
            processes (the last only after the uid drop: root ignores it).
  process   always: a fresh process, `python -I`, a scrubbed environment, a fresh working
            directory, a wall-clock limit enforced by the parent.

A layer the machine lacks degrades to the next; ``Layers.active`` is written into every
report, and ``strict`` refuses to grade without bwrap and the uid drop.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import KitError

UID_BASE = 61000          # workers run as uid/gid UID_BASE + k, k claimed by claim_uid
UID_RANGE = 4096
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048       # per test (address space above what the worker has mapped)
    worker_memory_mb: int = 6144  # cgroup: the worker's whole tree
    pids: int = 128
    fsize_mb: int = 64
    nofile: int = 256
    tmpfs_mb: int = 64          # the sandbox's /tmp and working folder (memory, in the cgroup)
    disk_mb: int = 512          # everything a worker leaves in its output folder on the host


@dataclass
class Layers:
    """What is active for one worker; names go into reports."""
    bwrap: bool = False
    uid: int | None = None
    cgroup: Path | None = None   # name of the cgroup created under memory/ and pids/
    notes: list[str] = field(default_factory=list)
    uid_lock: object = None      # the socket that holds ``uid`` for this process (claim_uid)

    @property
    def active(self) -> list[str]:
        names = ["subprocess", "python -I", "scrubbed env", "fresh dir", "wall-clock timeout",
                 "rlimits"]
        if self.bwrap:
            names.append("bwrap namespaces (mount, pid, net, ipc, uts)")
        if self.uid is not None:
            names.append("unprivileged uid per worker slot")
        if self.cgroup is not None:
            names.append("cgroup v1 memory+pids")
        return names


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.lru_cache(maxsize=None)
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe or not sys.platform.startswith("linux"):
        return False
    cmd = [exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc",
           "--dev", "/dev", "true"]
    if not is_root():
        cmd[1:1] = ["--unshare-user"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=None)
def setpriv_path() -> str | None:
    return shutil.which("setpriv") if is_root() else None


def cgroups_available() -> bool:
    return (is_root() and sys.platform.startswith("linux")
            and os.access(CGROUP_ROOT / "memory", os.W_OK)
            and os.access(CGROUP_ROOT / "pids", os.W_OK))


def available_layers() -> list[str]:
    return Layers(bwrap=bwrap_works(), uid=UID_BASE if setpriv_path() else None,
                  cgroup=Path("x") if cgroups_available() else None).active


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


def plan(slot: int, strict: bool = False) -> Layers:
    layers = Layers(bwrap=bwrap_works())
    if setpriv_path() and (layers.bwrap or all(world_traversable(r) for r in python_roots())):
        layers.uid, layers.uid_lock = claim_uid(slot)
    elif setpriv_path():
        layers.notes.append("no bubblewrap and the interpreter lives in a folder other users "
                            "cannot enter: the uid drop is off")
    if cgroups_available():
        layers.cgroup = Path(f"lmkit-{os.getpid()}-{slot}")
    if not layers.bwrap:
        layers.notes.append("bubblewrap unavailable: no namespaces, no network cut "
                            "(install it: apt-get install -y bubblewrap)")
    if layers.uid is None:
        layers.notes.append("not root: student code runs as the grader's own user")
    if strict and (not layers.bwrap or layers.uid is None):
        raise StrictRefused("--strict: refusing to grade without bubblewrap and an unprivileged "
                            "uid; run as root on Linux with bubblewrap installed "
                            "(apt-get install -y bubblewrap), or drop --strict. Missing: "
                            + "; ".join(layers.notes))
    return layers


# -- cgroups -------------------------------------------------------------------------------
def cgroup_create(layers: Layers, limits: Limits) -> None:
    if layers.cgroup is None:
        return
    try:
        mem = CGROUP_ROOT / "memory" / layers.cgroup
        pids = CGROUP_ROOT / "pids" / layers.cgroup
        mem.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        (mem / "memory.limit_in_bytes").write_text(str(limits.worker_memory_mb * 2**20))
        try:
            (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.worker_memory_mb * 2**20))
        except OSError:
            pass  # no swap accounting: the memory limit alone applies
        (pids / "pids.max").write_text(str(limits.pids))
    except OSError as err:
        layers.notes.append(f"cgroup setup failed ({err}); continuing without it")
        layers.cgroup = None


def cgroup_join_fn(layers: Layers):
    """A preexec_fn that moves the new process into the cgroup before it runs anything."""
    if layers.cgroup is None:
        return None
    paths = [CGROUP_ROOT / c / layers.cgroup / "cgroup.procs" for c in ("memory", "pids")]

    def join():
        for p in paths:
            with open(p, "w") as f:
                f.write(str(os.getpid()))
    return join


def cgroup_pids(layers: Layers) -> list[int]:
    if layers.cgroup is None:
        return []
    try:
        text = (CGROUP_ROOT / "pids" / layers.cgroup / "cgroup.procs").read_text()
        return [int(x) for x in text.split()]
    except OSError:
        return []


def cgroup_oom_killed(layers: Layers) -> bool:
    if layers.cgroup is None:
        return False
    try:
        text = (CGROUP_ROOT / "memory" / layers.cgroup / "memory.oom_control").read_text()
        return "oom_kill 0" not in text and "oom_kill" in text
    except OSError:
        return False


def cgroup_remove(layers: Layers) -> None:
    if layers.cgroup is None:
        return
    for c in ("memory", "pids"):
        path = CGROUP_ROOT / c / layers.cgroup
        for _ in range(100):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


# -- killing everything --------------------------------------------------------------------
def uid_pids(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def kill_all(proc: subprocess.Popen, layers: Layers) -> None:
    """Kill the worker and every process it started, whatever they did (setsid, fork bombs)."""
    for _ in range(200):
        victims = set(cgroup_pids(layers))
        if layers.uid is not None:
            victims |= set(uid_pids(layers.uid))
        if proc.poll() is None:
            victims.add(proc.pid)
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    if proc.poll() is None and not (layers.uid or layers.cgroup):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


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
    if not is_root():
        b.append("--unshare-user")
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
