"""Reading and writing checkpoints safely: plain values only, never half-written."""

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .errors import CheckpointError


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint of this project, loaded with ``weights_only=True``; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # torch refuses both garbage and pickled code this way; only code names a global.
        if "Unsupported global" not in str(error):
            raise CheckpointError(
                f"{path} is not a readable checkpoint (corrupt or truncated); "
                "use another one, e.g. the run's best.ckpt"
            ) from error
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain values, which are never "
            "unpickled here; use a checkpoint written by this project"
        ) from error
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt: "
            f"{str(error).splitlines()[0]}); use another one, e.g. the run's best.ckpt"
        ) from error
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hparams, dict) or "model" not in hparams or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a checkpoint of this project: it has no model config in its "
            "hyper-parameters"
        )
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file beside the target, fsync, then rename over it.

    Lightning writes the target file in place, so a process killed mid-write leaves a
    truncated ``last.ckpt`` that resume would pick up. A rename is atomic on POSIX.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
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
