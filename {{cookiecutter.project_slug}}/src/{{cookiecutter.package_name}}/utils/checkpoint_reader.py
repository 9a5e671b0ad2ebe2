"""Reading a checkpoint safely: plain values only, one line when it cannot be read.

Kept apart from the writer (utils/checkpoints.py) so that predicting and serving, which
only read, start without importing Lightning.
"""

import pickle
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint of this project, loaded with ``weights_only=True``; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        # mmap: tensors are read when used, so reading a large checkpoint's metrics or config
        # costs no copy of its weights.
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=True)
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
        # An empty file ends in an EOFError without a message.
        reason = "it is empty" if path.stat().st_size == 0 else str(error).strip() or repr(error)
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt: "
            f"{reason.splitlines()[0]}); use another one, e.g. the run's best.ckpt"
        ) from error
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hparams, dict) or "model" not in hparams or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is not a checkpoint of this project: it has no model config in its "
            "hyper-parameters"
        )
    return checkpoint


def weights_error(
    path: str | Path, hparams: dict[str, Any], error: RuntimeError
) -> CheckpointError:
    """The one line for weights that do not fit the model their config builds."""
    return CheckpointError(
        f"the weights in {path} do not fit the model its config describes "
        f"({hparams['model'].get('_target_')}): {str(error).splitlines()[0]}"
    )
