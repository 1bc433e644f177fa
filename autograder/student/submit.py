"""``submit``: a student packs exactly the graded files, with a manifest, after a check."""
from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

from rich.console import Console

from autograder.authoring.registry import Assignment


# otter-grader accepts exactly one .py at a submission's root: this inert file is it, and the
# graded files travel in a folder named after the assignment.
OTTER_ROOT_FILE = "lmkit_submission.py"
OTTER_ROOT_TEXT = ('"""lmkit submission for otter-grader: the graded files are in the folder {name}/.\n'
                   'Otter needs exactly one .py at the root of a submission; this is it. Leave it as it is."""\n')


def write_zip(a: Assignment, folder: Path, out: Path, platform: str | None = None) -> Path:
    """Zip the graded files of ``folder`` (plus a manifest) into ``out``, written atomically."""
    missing = [f for f in a.graded_files if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}")
    manifest = {"assignment": a.name, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "platform": platform or "any", "files": {}}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    prefix = f"{a.name}/" if platform == "otter" else ""
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        if platform == "otter":
            zf.writestr(OTTER_ROOT_FILE, OTTER_ROOT_TEXT.format(name=a.name))
        for f in a.graded_files:
            data = (folder / f).read_bytes()
            manifest["files"][f] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            zf.writestr(prefix + f, data)
        if platform != "otter":
            zf.writestr("submission.json", json.dumps(manifest, indent=2))
    tmp.replace(out)
    return out


def make_submission(a: Assignment, folder: Path | None, out: Path | None, console: Console,
                    skip_check: bool = False, platform: str | None = None) -> int:
    folder = folder or a.stub_dir
    out = out or Path(f"{a.name}-submission.zip")
    missing = [f for f in a.graded_files if not (folder / f).is_file()]
    if missing:
        console.print(f"[red]error:[/] {folder}: missing {', '.join(missing)}; run this from the "
                      "release folder or pass --folder")
        return 2
    if not skip_check:
        from autograder.student.check import check
        console.print(f"Running the public tests on {folder} first (skip with --no-check)...")
        code = check(a, folder, None, console)
        if code == 2:
            return 2
        if code != 0:
            console.print("[yellow]Some public tests fail; the zip is written anyway so you can "
                          "submit partial work.[/]")
    write_zip(a, folder, out, platform)
    console.print(f"[bold]Wrote {out}[/] with {', '.join(a.graded_files)}: upload it to "
                  "Gradescope (or hand it in as your course says).")
    return 0
