"""The worker's whole process tree: its cgroup (v1, or a delegated v2 subtree) and killing
everything it started. ``sandbox.py`` decides which layers a worker gets and re-exports these.

  CgroupV1   root on a cgroup v1 host: one cgroup per worker under memory/ and pids/
  CgroupV2   a writable cgroup v2 folder that can give memory and pids to children (root: the
             cgroup2 mount or our own cgroup; not root: a subtree systemd delegated), with
             memory.max, memory.swap.max, pids.max, and cgroup.kill to end the tree at once
  kill_all   the worker and every process it started, by cgroup, uid or session
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_V2_ENV = "LMKIT_CGROUP_V2"     # a delegated cgroup v2 folder to use (else found)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# -- cgroups -------------------------------------------------------------------------------
class CgroupV1:
    """cgroup v1: one cgroup per worker under memory/ and pids/ (root on a v1 host)."""
    kind = "v1"

    def __init__(self, root: Path = CGROUP_ROOT):
        self.root = Path(root)

    def where(self) -> str:
        return f"{self.root}/{{memory,pids}}"

    @classmethod
    def find(cls, root: Path = CGROUP_ROOT) -> "CgroupV1 | None":
        if not (is_root() and sys.platform.startswith("linux")):
            return None
        if os.access(root / "memory", os.W_OK) and os.access(root / "pids", os.W_OK) and \
                (root / "memory" / "cgroup.procs").exists():
            return cls(root)
        return None

    def create(self, name: Path, limits) -> None:
        mem, pids = self.root / "memory" / name, self.root / "pids" / name
        mem.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        (mem / "memory.limit_in_bytes").write_text(str(limits.worker_memory_mb * 2**20))
        try:
            (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.worker_memory_mb * 2**20))
        except OSError:
            pass  # no swap accounting: the memory limit alone applies
        (pids / "pids.max").write_text(str(limits.pids))

    def procs_files(self, name: Path) -> list[Path]:
        return [self.root / c / name / "cgroup.procs" for c in ("memory", "pids")]

    def pids(self, name: Path) -> list[int]:
        return _read_pids(self.root / "pids" / name / "cgroup.procs")

    def kill(self, name: Path) -> None:
        pass  # v1 has no cgroup.kill: kill_all signals every pid listed

    def oom_killed(self, name: Path) -> bool:
        try:
            text = (self.root / "memory" / name / "memory.oom_control").read_text()
        except OSError:
            return False
        return "oom_kill" in text and "oom_kill 0" not in text

    def remove(self, name: Path) -> None:
        for c in ("memory", "pids"):
            _rmdir_retry(self.root / c / name)


class CgroupV2:
    """cgroup v2: one child cgroup per worker under ``base``, a folder this process may write
    whose cgroup.subtree_control enables memory and pids (root: the cgroup2 mount itself or our
    own cgroup; not root: a subtree systemd delegated to the user). Limits are memory.max,
    memory.swap.max and pids.max; cgroup.kill ends the whole tree at once."""
    kind = "v2"

    def __init__(self, base: Path):
        self.base = Path(base)

    def where(self) -> str:
        return str(self.base)

    @classmethod
    def find(cls, mountinfo: Path = Path("/proc/self/mountinfo"),
             own: Path = Path("/proc/self/cgroup")) -> "CgroupV2 | None":
        """``LMKIT_CGROUP_V2`` if set, else our own cgroup on the cgroup2 mount, when it is
        writable and can enable memory and pids for children."""
        if not sys.platform.startswith("linux"):
            return None
        env = os.environ.get(CGROUP_V2_ENV)
        candidates = [Path(env)] if env else _v2_candidates(mountinfo, own)
        for base in candidates:
            b = cls(base)
            if b.usable():
                return b
        return None

    def usable(self) -> bool:
        ctl = self.base / "cgroup.subtree_control"
        if not (os.access(self.base, os.W_OK) and ctl.exists()):
            return False
        if {"memory", "pids"} <= set(_read(ctl).split()):
            return True
        if not {"memory", "pids"} <= set(_read(self.base / "cgroup.controllers").split()):
            return False
        try:
            self._write(ctl, "+memory +pids")
            return True
        except OSError:
            pass
        # "no internal processes": a cgroup that holds processes cannot give controllers to
        # children. If it holds only us, move us into a leaf beside the workers and retry.
        procs = _read_pids(self.base / "cgroup.procs")
        if procs and set(procs) <= {os.getpid()}:
            try:
                leaf = self.base / "lmkit-grader"
                leaf.mkdir(exist_ok=True)
                self._write(leaf / "cgroup.procs", str(os.getpid()))
                self._write(ctl, "+memory +pids")
                return True
            except OSError:
                return False
        return False

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)

    def create(self, name: Path, limits) -> None:
        cg = self.base / name
        cg.mkdir(exist_ok=True)
        (cg / "memory.max").write_text(str(limits.worker_memory_mb * 2**20))
        try:
            (cg / "memory.swap.max").write_text("0")
        except OSError:
            pass  # no swap controller: memory.max alone applies
        (cg / "pids.max").write_text(str(limits.pids))

    def procs_files(self, name: Path) -> list[Path]:
        return [self.base / name / "cgroup.procs"]

    def pids(self, name: Path) -> list[int]:
        return _read_pids(self.base / name / "cgroup.procs")

    def kill(self, name: Path) -> None:
        try:
            (self.base / name / "cgroup.kill").write_text("1")   # Linux 5.14+
        except OSError:
            pass  # older kernels: kill_all signals every pid listed

    def oom_killed(self, name: Path) -> bool:
        for line in _read(self.base / name / "memory.events").splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill" and v.strip() not in ("", "0"):
                return True
        return False

    def remove(self, name: Path) -> None:
        _rmdir_retry(self.base / name)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_pids(path: Path) -> list[int]:
    return [int(x) for x in _read(path).split() if x.isdigit()]


def _rmdir_retry(path: Path) -> None:
    """rmdir a cgroup, waiting (2 s at most) while its last processes exit."""
    import errno
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                return  # not a cgroup (a plain folder with files): leave it
            time.sleep(0.02)


def _v2_candidates(mountinfo: Path, own: Path) -> list[Path]:
    mounts = []
    for line in _read(mountinfo).splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            mounts.append(Path(left.split()[4]))
    rel = next((ln[3:] for ln in _read(own).splitlines() if ln.startswith("0::")), None)
    found = []
    for m in mounts:
        if rel and rel.strip() not in ("", "/"):
            found.append(m / rel.strip().lstrip("/"))
        found.append(m)
    return found


def cgroup_create(layers, limits) -> None:
    if layers.cgroup is None:
        return
    try:
        layers.cgroup_backend.create(layers.cgroup, limits)
    except OSError as err:
        layers.notes.append(f"cgroup setup failed ({err}); continuing without it")
        layers.cgroup = None


def cgroup_join_fn(layers):
    """A preexec_fn that moves the new process into the cgroup before it runs anything."""
    if layers.cgroup is None:
        return None
    paths = layers.cgroup_backend.procs_files(layers.cgroup)

    def join():
        for p in paths:
            with open(p, "w") as f:
                f.write(str(os.getpid()))
    return join


def cgroup_pids(layers) -> list[int]:
    if layers.cgroup is None:
        return []
    return layers.cgroup_backend.pids(layers.cgroup)


def cgroup_oom_killed(layers) -> bool:
    if layers.cgroup is None:
        return False
    return layers.cgroup_backend.oom_killed(layers.cgroup)


def cgroup_remove(layers) -> None:
    if layers.cgroup is None:
        return
    layers.cgroup_backend.remove(layers.cgroup)


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


def session_pids(sid: int) -> list[int]:
    """Processes in session ``sid`` (Linux /proc; empty elsewhere)."""
    pids = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return pids
    for entry in entries:
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def kill_all(proc: subprocess.Popen, layers) -> None:
    """Kill the worker and every process it started, whatever they did (setsid, fork bombs)."""
    if layers.cgroup is not None:
        layers.cgroup_backend.kill(layers.cgroup)
    if not hasattr(signal, "SIGKILL"):  # Windows: no process groups, no uids, no cgroups
        proc.kill()
    for _ in range(200):
        victims = set(cgroup_pids(layers))
        if layers.uid is not None:
            victims |= set(uid_pids(layers.uid))
        elif layers.cgroup is None:
            # no uid and no cgroup to find them by: the worker's session (each test's child
            # is in its own process group, still in this session); setsid() escapes this
            victims |= set(session_pids(proc.pid))
        if proc.poll() is None and hasattr(signal, "SIGKILL"):
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
