"""Shape conventions shared by the models.

Images arrive as ``(C, H, W)`` and sequences as ``(T, F)`` (time first), batch excluded.
Sequence models read an image row by row: ``H`` steps of ``C * W`` features;
``sequence_shape`` and ``as_sequence`` let a model of your own read both (README: "Adapt a
published model"). Any model, a user's own too, is run once on the data's shape before a
run starts (``check_forward``).
A model returns its prediction ``(batch, outputs)``, or a tuple that starts with it
(``models/outputs.py``).
"""

import os
import sysconfig
import traceback
from collections.abc import Sequence
from pathlib import Path

import hydra
import omegaconf
import torch
from torch import nn

from ..utils.errors import ConfigError
from .outputs import Outputs


class IncompatibleInput(ConfigError):
    """The data's inputs have a shape the model cannot read."""


def image_or_sequence(input_shape: Sequence[int]) -> str:
    """``"image"`` for ``(C, H, W)``, ``"sequence"`` for ``(T, F)``; other shapes are refused."""
    if len(input_shape) == 3:
        return "image"
    if len(input_shape) == 2:
        return "sequence"
    raise IncompatibleInput(
        f"it needs images (C, H, W) or sequences (T, F), got {tuple(input_shape)}"
    )


def sequence_shape(input_shape: Sequence[int]) -> tuple[int, int]:
    """(steps, features) that ``as_sequence`` produces for inputs of this shape."""
    if image_or_sequence(input_shape) == "sequence":
        return int(input_shape[0]), int(input_shape[1])
    channels, height, width = input_shape
    return int(height), int(channels * width)


def as_sequence(x: torch.Tensor) -> torch.Tensor:
    """(B, T, F) view of a batch of sequences or images."""
    if x.dim() == 4:
        return x.permute(0, 2, 1, 3).flatten(2)
    return x


# What a model raises, building or running, when the data's shape does not suit it. Other
# errors (NameError, AttributeError, ImportError...) are bugs and keep their traceback.
SHAPE_ERRORS = (ValueError, TypeError, RuntimeError, IndexError, AssertionError)


def describe(error: BaseException) -> str:
    """``ValueError at models/tiny.py:12: <first line>``: the innermost line of the model's
    own code (not torch's or Hydra's), so one line still says where to look."""
    libraries = (
        sysconfig.get_paths()["stdlib"] + os.sep,
        *(str(Path(module.__file__).parent) + os.sep for module in (torch, hydra, omegaconf)),
    )
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(libraries)
    ]
    where = ""
    if frames:
        path = Path(frames[-1].filename)
        if path.is_relative_to(Path.cwd()):
            path = path.relative_to(Path.cwd())
        where = f" at {path}:{frames[-1].lineno}"
    message = (str(error).strip() or "no message").splitlines()[0]
    return f"{type(error).__name__}{where}: {message}"


def check_forward(model: nn.Module, input_shape: Sequence[int], num_outputs: int) -> Outputs:
    """Run the model once on a batch of two zero inputs of the data's shape, so a model that
    cannot read the data fails before the run writes anything, not at its first step.

    In eval mode, without gradients and with the random state restored: batch-norm
    statistics, weights and the run's random numbers stay as they were. Returns the outputs,
    for a check of the loss (``Task.check_loss``).
    """
    batch = torch.zeros(2, *input_shape)
    shape = tuple(batch.shape)
    training = model.training
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            outputs = model.eval()(batch)
    except SHAPE_ERRORS as error:
        raise IncompatibleInput(
            f"a batch of shape {shape} fails in its forward pass with {describe(error)}"
        ) from None
    finally:
        model.train(training)
    expected = (2, num_outputs)
    predicted = outputs[0] if isinstance(outputs, tuple) and outputs else outputs
    if not isinstance(predicted, torch.Tensor):
        raise IncompatibleInput(
            f"a batch of shape {shape} gives a {type(predicted).__name__}, not a tensor of "
            f"shape {expected} (or a tuple that starts with one)"
        )
    if tuple(predicted.shape) != expected:
        raise IncompatibleInput(
            f"a batch of shape {shape} gives outputs of shape {tuple(predicted.shape)}, not "
            f"{expected} (batch, outputs)"
        )
    return outputs
