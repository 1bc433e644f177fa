"""Stage 1: a submission (folder or zip, hostile until proven otherwise) -> its graded files.

Only the assignment's graded files are read (``staging.py`` lays them over the kit's own
package). Archives are read without extracting anything
but the graded files, with caps on size, count and compression ratio; names that escape
(``..``, absolute paths, symlinks) are refused, and a malformed archive is a clear result.
"""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from autograder.authoring.registry import Assignment
from autograder.engine.records import Submission

MAX_FILE_BYTES = 2 * 2**20        # one graded file
MAX_ARCHIVE_BYTES = 50 * 2**20    # the zip itself
MAX_MEMBERS = 2000
MAX_TOTAL_UNCOMPRESSED = 200 * 2**20
MAX_RATIO = 200                   # uncompressed / compressed, per member


def submission_id(path: Path) -> str:
    name = path.name
    for suffix in (".zip",):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return safe or "submission"


def load_submission(path: Path, assignment: Assignment) -> Submission:
    """Read the graded files of one submission; never raises for a bad submission."""
    sub = Submission(id=submission_id(path), source=path)
    try:
        if path.is_symlink():
            sub.fatal = f"{path}: is a symbolic link; submit a real folder or zip"
        elif path.is_dir():
            _read_folder(path, assignment, sub)
        elif path.is_file():
            _read_zip(path, assignment, sub)
        else:
            sub.fatal = f"{path}: no such file or folder"
    except OSError as err:
        sub.fatal = f"{path}: could not be read ({err.strerror or err})"
    if sub.fatal is None:
        missing = [f for f in assignment.graded_files if f not in sub.files]
        if len(missing) == len(assignment.graded_files):
            sub.fatal = (f"{path}: none of the graded files ({', '.join(assignment.graded_files)}) "
                         "were found; submit the files you edited in "
                         f"assignments/{assignment.name}/")
        for m in (missing if sub.fatal is None else []):
            sub.problems.append(f"{m} is missing from the submission: its tests ran against "
                                "the unmodified stub")
    return sub


def _read_folder(path: Path, assignment: Assignment, sub: Submission) -> None:
    candidates = [path, path / assignment.name]
    for name in assignment.graded_files:
        for folder in candidates:
            f = folder / name
            if f.is_symlink():
                sub.problems.append(f"{name} is a symbolic link and was ignored")
                break
            if f.is_file():
                st = f.stat()
                if st.st_size > MAX_FILE_BYTES:
                    sub.problems.append(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB and "
                                        "was ignored")
                else:
                    sub.files[name] = f.read_bytes()
                break


def _read_zip(path: Path, assignment: Assignment, sub: Submission) -> None:
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        sub.fatal = f"{path.name}: the archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MB"
        return
    if not zipfile.is_zipfile(path):
        sub.fatal = (f"{path.name}: not a zip archive (or a damaged one); submit a .zip made by "
                     "`python -m autograder submit`")
        return
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                sub.fatal = f"{path.name}: the archive holds {len(infos)} entries (limit {MAX_MEMBERS})"
                return
            if not infos:
                sub.fatal = f"{path.name}: the archive is empty"
                return
            total = sum(i.file_size for i in infos)
            if total > MAX_TOTAL_UNCOMPRESSED:
                sub.fatal = (f"{path.name}: the archive expands to {total // 2**20} MB "
                             f"(limit {MAX_TOTAL_UNCOMPRESSED // 2**20} MB): refused as a zip bomb")
                return
            found: dict[str, zipfile.ZipInfo] = {}
            for info in infos:
                name = info.filename
                pure = PurePosixPath(name.replace("\\", "/"))
                if (name.startswith(("/", "\\")) or ".." in pure.parts
                        or (len(name) > 1 and name[1] == ":")):
                    sub.problems.append(f"archive entry {name!r} escapes its folder and was ignored")
                    continue
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    sub.problems.append(f"archive entry {name!r} is a symbolic link and was ignored")
                    continue
                if info.is_dir() or pure.name not in assignment.graded_files:
                    continue
                if pure.parts[0] in ("__MACOSX",) or pure.name.startswith("._"):
                    continue
                if pure.name in found:
                    sub.problems.append(f"{pure.name} appears more than once in the archive; "
                                        f"graded the first ({found[pure.name].filename})")
                    continue
                found[pure.name] = info
            for name, info in found.items():
                if info.file_size > MAX_FILE_BYTES:
                    sub.problems.append(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB and was ignored")
                    continue
                if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                    sub.problems.append(f"{name} has a compression ratio above {MAX_RATIO}: refused")
                    continue
                with zf.open(info) as f:
                    data = f.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    sub.problems.append(f"{name} is larger than declared and was ignored")
                    continue
                sub.files[name] = data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            ValueError, RuntimeError) as err:
        sub.fatal = f"{path.name}: the archive could not be read ({err})"
