"""Files a run writes: atomic writes (a half-written file never takes the place of a good one),
clean-up of what a killed write left behind, and folder checks made before any work."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


class PathError(ValueError):
    """A folder the run needs is a file, or lies under one."""


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary file ``.NAME.PID.tmp`` next to ``path``, flush it to
    disk, then rename it to ``path`` (``os.replace`` is atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` in ``folder`` whose writing process is
    gone (a write killed midway); returns what was deleted."""
    removed = []
    for path in folder.glob(".*.tmp") if folder.is_dir() else ():
        match = _TEMPORARY.match(path.name)
        if match and not _process_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def require_folder(path: Path, what: str) -> None:
    """Raise :class:`PathError` if ``path`` or a folder above it exists and is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            where = "is a file" if candidate == path else f"lies under the file {candidate}"
            raise PathError(f"{what} {path} {where}; give a folder")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
