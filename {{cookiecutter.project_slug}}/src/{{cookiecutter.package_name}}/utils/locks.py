"""One writer per run folder: ``run.lock`` names the process training in it.

A second process that would write into the same folder (``resume=`` of a run that is still
training) is refused in one line. The lock is removed when its run ends, whichever way it
ends short of SIGKILL or power loss; a lock left by a process that no longer runs on this
host, or by an earlier run of a SLURM job that SLURM requeued, is taken over with a message.
Any other lock from another host cannot be checked from here, so it is honoured until the
user removes it.
"""

import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from .errors import UserError

LOCK = "run.lock"


class RunInUseError(UserError):
    pass


def _slurm_job() -> str | None:
    """``<job id>:<restart count>``: a requeued SLURM job keeps its id and counts up."""
    job_id = os.environ.get("SLURM_JOB_ID")
    return f"{job_id}:{os.environ.get('SLURM_RESTART_COUNT', '0')}" if job_id else None


class Holder(NamedTuple):
    pid: int
    host: str
    started: str
    slurm_job: str | None = None

    @classmethod
    def me(cls) -> "Holder":
        started = datetime.now().isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), started, _slurm_job())

    def has_ended(self) -> bool:
        """The holder is known to have ended: its pid is free on this host, or it was an
        earlier run of the SLURM job this process is a requeued run of."""
        job = _slurm_job()
        if self.slurm_job and job and self.slurm_job != job:
            job_id, restart = job.split(":")
            held_id, held_restart = self.slurm_job.split(":")
            if held_id == job_id and int(held_restart) < int(restart):
                return True
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, but another user's
            return False
        return False


def read_holder(folder: Path) -> Holder | None:
    """The lock's holder; None when there is no lock or it cannot be read."""
    try:
        return Holder(**json.loads((folder / LOCK).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def is_locked(folder: Path) -> bool:
    """Whether a process (possibly on another host) still holds the folder's lock."""
    if not (folder / LOCK).exists():
        return False
    holder = read_holder(folder)
    return holder is None or not holder.has_ended()


@contextmanager
def _one_at_a_time(folder: Path) -> Iterator[None]:
    """Check and take the lock as one step: two processes that both find a dead holder's
    lock would otherwise both take it over. Where the filesystem has no ``flock`` (some
    network ones), the exclusive create of the lock file below still keeps one winner
    when there is no lock to take over."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        with suppress(OSError):
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the flock


def _in_use(folder: Path, holder: Holder | None) -> RunInUseError:
    who = (
        f"pid {holder.pid} on host {holder.host} (started {holder.started})"
        if holder
        else "another process"
    )
    return RunInUseError(
        f"{folder} is in use by {who}; wait for it to finish, or if that process is gone, "
        f"delete {folder / LOCK} and run again"
    )


def acquire(folder: Path) -> Holder:
    """Lock ``folder`` for this process, or raise ``RunInUseError``."""
    path = folder / LOCK
    with _one_at_a_time(folder):
        if path.exists():
            holder = read_holder(folder)
            if holder is None or not holder.has_ended():
                raise _in_use(folder, holder)
            print(
                f"note: taking over {path}: pid {holder.pid} on host {holder.host} (started "
                f"{holder.started}) no longer runs",
                file=sys.stderr,
            )
            path.unlink(missing_ok=True)
        me = Holder.me()
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise _in_use(folder, read_holder(folder)) from None
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(me._asdict()) + "\n")
    return me


def release(folder: Path, holder: Holder) -> None:
    """Remove the lock if it is still ``holder``'s (never another process's)."""
    if read_holder(folder) == holder:
        (folder / LOCK).unlink(missing_ok=True)


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock while the block runs; released however the block ends."""
    holder = acquire(folder)
    try:
        yield
    finally:
        release(folder, holder)
