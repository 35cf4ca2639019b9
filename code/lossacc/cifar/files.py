"""Files a run writes: atomic writes (a half-written file never takes the place of a good one),
clean-up of what a killed write left behind, folder checks made before any work, and the lock
by which a run holds its folders."""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

if sys.platform != "win32":
    import fcntl

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class PathError(ValueError):
    """A folder the run needs is a file, lies under one, cannot be written, or is held by another run."""


class DiskFullError(OSError):
    """A write ran out of disk space; the file it was replacing is untouched."""


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary file ``.NAME.PID.tmp`` next to ``path``, flush it to
    disk, then rename it to ``path`` (``os.replace`` is atomic on one file system). A write
    that runs out of space raises :class:`DiskFullError`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if error.errno in _DISK_FULL:
            raise DiskFullError(
                error.errno, f"the disk is full: writing {path} failed and the previous copy (if any) is kept"
            ) from error
        raise
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


def require_folder(path: Path, what: str, *, writable: bool = False) -> None:
    """Raise :class:`PathError` if ``path`` or a folder above it exists and is not a folder, or,
    with ``writable``, if nothing can be written in it (tried with a temporary file in ``path``,
    or in the nearest folder above it that exists, where it will be made)."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            where = "is a file" if candidate == path else f"lies under the file {candidate}"
            raise PathError(f"{what} {path} {where}; give a folder")
    if writable:
        existing = next(candidate for candidate in (path, *path.parents, Path.cwd()) if candidate.exists())
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as error:
            where = "" if existing == path else f" (its folder {existing} cannot be written)"
            raise PathError(f"{what} {path} is not writable{where}: {error.strerror}") from error


@contextmanager
def hold_folders(folders: dict[Path, str], *, wait: bool = False) -> Iterator[None]:
    """Hold each folder (made if missing) for this process by an exclusive ``flock`` on the folder
    itself, or raise :class:`PathError` if another process holds it (``wait``: wait for it
    instead). The kernel drops the lock when the process ends, however it ends, so a killed run
    leaves nothing stuck, and no file is left behind. ``folders`` maps each folder to how the
    message names it; a folder given twice is held once."""
    with ExitStack() as stack:
        held: set[Path] = set()
        for folder, what in folders.items():
            folder.mkdir(parents=True, exist_ok=True)
            if folder.resolve() in held or sys.platform == "win32":  # Windows: no lock (flock is POSIX)
                continue
            held.add(folder.resolve())
            descriptor = os.open(folder, os.O_RDONLY)
            stack.callback(os.close, descriptor)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise PathError(
                    f"{what} {folder} is in use by another run; wait for it to end, or give another folder"
                ) from None
        yield


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
