"""What the parent reads of a worker besides its output files: how much it wrote, its log,
its error report, how it died. Everything here treats the worker's folders as hostile:
links are not followed and sizes are capped."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.engine.worker import LOG_FILE

DISK_POLL_S = 0.2
MAX_ENTRIES = 20_000


def disk_usage(folders: list[Path]) -> int:
    """Bytes under ``folders`` (links not followed); a flood of entries counts as too much."""
    total, entries = 0, 0
    stack = [str(f) for f in folders]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for e in it:
                entries += 1
                if entries > MAX_ENTRIES:
                    return 1 << 62
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return total


def empty(folder: Path) -> None:
    """Remove everything inside ``folder`` (which stays)."""
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for c in children:
        if c.is_dir() and not c.is_symlink():
            shutil.rmtree(c, ignore_errors=True)
        else:
            try:
                c.unlink()
            except OSError:
                pass


def signal_detail(sig) -> str:
    import signal as s
    names = {s.SIGKILL: "SIGKILL (the memory limit, or the process was killed)",
             s.SIGXCPU: "SIGXCPU (the CPU-time limit)", s.SIGSEGV: "SIGSEGV (a crash)",
             s.SIGXFSZ: "SIGXFSZ (the file-size limit)", s.SIGABRT: "SIGABRT (an abort)"}
    try:
        return f"the test process was killed by {names.get(sig, s.Signals(sig).name)}"
    except (ValueError, TypeError):
        return f"the test process was killed by signal {sig}"


def read_capped(path: Path, cap: int) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(cap).decode("utf-8", "replace")


def tail(tdir: Path, cap: int = 1500) -> str:
    p = tdir / LOG_FILE
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - cap))
        text = f.read(cap).decode("utf-8", "replace")
    return ("..." if size > cap else "") + text
