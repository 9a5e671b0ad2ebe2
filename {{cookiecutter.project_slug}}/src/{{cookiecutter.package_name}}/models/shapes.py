"""Shape conventions shared by the models.

Images arrive as ``(C, H, W)`` and sequences as ``(T, F)`` (time first), batch excluded.
Sequence models read an image row by row: ``H`` steps of ``C * W`` features.
"""

from collections.abc import Sequence

import torch

from ..utils.errors import ConfigError


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
