"""Shape conventions shared by the models.

Images arrive as ``(C, H, W)`` and sequences as ``(T, F)`` (time first), batch excluded.
Sequence models read an image row by row: ``H`` steps of ``C * W`` features.
"""

from collections.abc import Sequence

import torch


def sequence_shape(input_shape: Sequence[int]) -> tuple[int, int]:
    """(steps, features) that ``as_sequence`` produces for inputs of this shape."""
    if len(input_shape) == 2:
        return int(input_shape[0]), int(input_shape[1])
    if len(input_shape) == 3:
        channels, height, width = input_shape
        return int(height), int(channels * width)
    raise ValueError(
        f"input_shape {tuple(input_shape)} is neither a sequence (T, F) nor an image (C, H, W)"
    )


def as_sequence(x: torch.Tensor) -> torch.Tensor:
    """(B, T, F) view of a batch of sequences or images."""
    if x.dim() == 4:
        return x.permute(0, 2, 1, 3).flatten(2)
    return x
