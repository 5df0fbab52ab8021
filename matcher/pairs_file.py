"""Where a pairs file goes: checked before any side effect, written whole, no ``OUT.tmp`` left.

A pairs file is written to ``OUT.tmp`` beside ``OUT`` and renamed over it when complete, so a
reader never sees half a file.  The writer holds an exclusive lock (``flock``) on ``OUT.tmp``
while it writes: an ``OUT.tmp`` that nobody holds is what a killed write left behind, and the
next write (or check) removes it; one that is held belongs to a write in progress, and a second
writer of the same ``OUT`` is refused rather than allowed to destroy it.  The lock dies with
its process, so a killed writer never leaves a file that looks busy.

Whatever cannot be written — a directory that cannot be created, a read-only or full disk, a
file too large — is an :class:`OutputError`: one line, exit 2 (the environment, not the input).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import ZhidaError

__all__ = ["OutputError", "check_output", "claimed", "copy_pairs", "tmp_of"]


class OutputError(ZhidaError, OSError):
    """An output file cannot be written (unwritable, full, busy): exit 2."""

    exit_code = 2
    http_status = 507


def tmp_of(path: Path) -> Path:
    """The file ``path`` is written to before it is renamed into place.

    >>> tmp_of(Path("out/m.parquet"))
    PosixPath('out/m.parquet.tmp')
    """
    return path.with_name(path.name + ".tmp")


def cannot_write(path: Path, reason: str) -> OutputError:
    """The one-line error for ``path``: what failed and what to do."""
    return OutputError(
        f"cannot write {path}: {reason}; choose another --out or make room and run again"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@contextmanager
def claimed(path: Path) -> Iterator[Path]:
    """Hold ``OUT.tmp`` exclusively while writing ``path``; it is gone afterwards.

    Yields the temporary path; the caller writes it and renames it over ``path``.  A stale
    ``OUT.tmp`` (no process holds it) is taken over; a held one raises :class:`OutputError`.
    """
    if path.is_dir():
        raise cannot_write(path, "it is a directory (give a file name, e.g. DIR/matches.parquet)")
    tmp = tmp_of(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise cannot_write(path, _reason(exc)) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"another process is writing {path} (it holds {tmp.name}); wait for it to "
                "finish or choose another --out"
            ) from None
        try:
            yield tmp
        finally:
            _remove_if_ours(tmp, fd)
    finally:
        os.close(fd)


def _remove_if_ours(tmp: Path, fd: int) -> None:
    """Remove ``tmp`` unless it was renamed into place or is now another writer's file."""
    try:
        if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
            tmp.unlink()
    except FileNotFoundError:
        pass


def check_output(path: Path) -> None:
    """Fail now, before anything is recorded or sent, if ``path`` cannot be written.

    Creates its directory, proves a file can be created there, and removes a stale ``OUT.tmp``
    a killed write left behind.  A disk that fills up later is reported by the write itself.
    """
    with claimed(path):
        pass


def copy_pairs(source: Path, path: Path) -> None:
    """Copy a pairs file to ``path`` whole (through ``OUT.tmp``), or raise :class:`OutputError`."""
    with claimed(path) as tmp:
        try:
            shutil.copyfile(source, tmp)
            tmp.replace(path)
        except OSError as exc:
            raise cannot_write(path, _reason(exc)) from exc
