"""Writing checkpoints safely: never half-written, a full disk said in one line."""

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .errors import DiskFullError
from .locks import is_locked
from .runs import LAST_CHECKPOINT, RUNS

# What AtomicCheckpointIO and the CSV logger write before renaming over the real file.
PARTIAL_WRITES = (".*.tmp-*", "checkpoints/.*.tmp-*")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file beside the target, fsync, then rename over it.

    Lightning writes the target file in place, so a process killed mid-write leaves a
    truncated ``last.ckpt`` that resume would pick up. A rename is atomic on POSIX. A full
    disk ends the run in one line, the previous file untouched.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with disk_full_in_one_line(target, self.run_dir):
            try:
                with temporary.open("wb") as file:
                    torch.save(checkpoint, file)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextmanager
def disk_full_in_one_line(path: Path, run_dir: Path) -> Iterator[None]:
    """A full disk (or quota) while writing ``path`` ends the run in one line."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(path, run_dir) from None
        raise


def disk_full(path: Path, run_dir: Path) -> DiskFullError:
    """The one line a full disk (or quota) ends a run with, saying what was kept."""
    last = run_dir / LAST_CHECKPOINT
    kept = (
        f"the last good checkpoint {last} is kept; free space and resume with: "
        f"python train.py resume={run_dir}"
        if last.is_file()
        else "no checkpoint was written yet; free space and start the run again"
    )
    return DiskFullError(f"no space left on device writing {path}; {kept}")


def remove_orphaned_writes(log_dir: str, task_name: str, run_dir: Path) -> None:
    """Delete the temporary files of runs killed while writing (SIGKILL, power loss).

    Only in this run's folder and in folders no live process holds (see ``utils/locks.py``):
    a live run's temporary file is about to be renamed over its checkpoint.
    """
    runs = Path(log_dir) / task_name / RUNS
    siblings = [folder for folder in runs.iterdir() if folder.is_dir()] if runs.is_dir() else []
    for folder in [run_dir, *siblings]:
        if folder == run_dir or not is_locked(folder):
            for pattern in PARTIAL_WRITES:
                for leftover in folder.glob(pattern):
                    leftover.unlink(missing_ok=True)
