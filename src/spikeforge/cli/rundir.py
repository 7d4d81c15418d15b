"""Claiming a run folder for one ``spikeforge train``: checked, locked, never overwritten.

Before any data loads, :func:`claim_run_folder` makes sure ``--out`` is a folder it can
write, takes an exclusive lock on ``.spikeforge.lock`` inside it (another training of the
same folder is refused with the holder's pid; the operating system releases the lock when
the process ends, however it ends), removes temporaries left by a killed save, and refuses
to replace an existing run unless ``--resume`` or ``--overwrite`` says what to do with it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import CLIError
from .runfiles import CHECKPOINT, CONFIG, METRICS, PLOT_FILES, temporary_files

__all__ = ["LOCK_NAME", "RunLock", "claim_run_folder", "holds_run"]

LOCK_NAME = ".spikeforge.lock"


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--out {folder}: it is a file, not a folder; choose another --out")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise CLIError(
                f"--out {folder}: {parent} is a file, not a folder; choose another --out"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(
            f"--out {folder}: cannot create it ({_reason(err)}); choose another --out"
        ) from None


def _reason(err: OSError) -> str:
    return os.strerror(err.errno) if err.errno else str(err)


class RunLock:
    """An exclusive, non-blocking lock on ``folder/.spikeforge.lock`` holding the pid."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise CLIError(
                f"--out {self.path.parent}: cannot write there ({_reason(err)}); "
                "choose a writable --out"
            ) from None
        if not _try_lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise CLIError(
                f"--out {self.path.parent} is being written by another `spikeforge train` "
                f"({who}); wait for it to finish, or choose another --out"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte instead
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def holds_run(folder: Path) -> bool:
    """A folder holds a run once a checkpoint or metrics were written (a ``config.json``
    alone is a start that saved nothing)."""
    return (folder / CHECKPOINT).exists() or (folder / METRICS).exists()


def _remove_run_files(folder: Path) -> None:
    for name in (CHECKPOINT, METRICS, CONFIG):
        (folder / name).unlink(missing_ok=True)
    for name in PLOT_FILES:
        (folder / name).unlink(missing_ok=True)


def claim_run_folder(folder: Path, resume: bool, overwrite: bool) -> RunLock:
    """Create and lock ``folder`` for a training; returns the held lock (release it at the end).

    ``resume``: the folder must hold a checkpoint to continue. ``overwrite``: an existing run's
    files are deleted. Neither: a folder that already holds a run is refused.
    """
    if resume and overwrite:
        raise CLIError("--resume continues a run and --overwrite replaces it: give only one")
    _make_folder(folder)
    lock = RunLock(folder)
    lock.acquire()
    try:
        for tmp in temporary_files(folder):
            tmp.unlink(missing_ok=True)  # left by a killed save; no writer is running now
        if resume and not (folder / CHECKPOINT).exists():
            raise CLIError(
                f"--resume: {folder} has no {CHECKPOINT} to continue (the run stopped before "
                "its first epoch ended, or never started); train it without --resume"
            )
        if not resume and holds_run(folder):
            if not overwrite:
                raise CLIError(
                    f"--out {folder} already holds a run; continue it with --resume, replace "
                    "it with --overwrite, or choose another --out"
                )
            _remove_run_files(folder)
    except BaseException:
        lock.release()
        raise
    return lock
