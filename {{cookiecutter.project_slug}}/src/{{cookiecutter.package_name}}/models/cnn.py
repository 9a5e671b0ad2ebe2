import math
from collections.abc import Sequence

import torch
from torch import nn

from .shapes import image_or_sequence


class CNN(nn.Module):
    """Conv blocks, each halving the size, then the mean over positions and a linear head.

    Images use 2-D convolutions; sequences ``(T, F)`` use 1-D convolutions over time.
    The depth follows the image it is built for: after ``channels``, more blocks of the last
    width are added until height and width are at most ``max_feature_size``
    (``configs/model/cnn.yaml``: 8). Averaging a large map would blur where things are, and
    a shallow stack sees only small patches of a large image (two blocks on 64x64 learn
    little); 8x8 digits, 28x28 MNIST and 32x32 CIFAR-10 keep the two blocks of ``channels``.
    None, the default here, builds exactly ``channels``, as runs saved before this option
    were built, so their checkpoints still load.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        dropout: float = 0.1,
        max_feature_size: int | None = None,
    ) -> None:
        super().__init__()
        self.is_sequence = image_or_sequence(input_shape) == "sequence"
        conv, norm, pool = (
            (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)
            if self.is_sequence
            else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        )
        in_channels = input_shape[1] if self.is_sequence else input_shape[0]
        widths = list(channels)
        if not self.is_sequence and max_feature_size is not None:
            widths += [widths[-1]] * extra_blocks(input_shape[1:], len(widths), max_feature_size)
        blocks: list[nn.Module] = []
        for out_channels in widths:
            blocks += [
                conv(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
                norm(out_channels),
                nn.GELU(),
                pool(2, ceil_mode=True),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels, num_outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_sequence:
            x = x.transpose(1, 2)
        features = self.features(x)
        return self.head(features.flatten(2).mean(-1))


def extra_blocks(size: Sequence[int], blocks: int, max_feature_size: int) -> int:
    """How many blocks to add to ``blocks`` so that halving ``size`` (rounding up, as the
    pools do) leaves each side at most ``max_feature_size``."""
    largest, extra = max(size), 0
    for _ in range(blocks):
        largest = math.ceil(largest / 2)
    while largest > max(1, max_feature_size):
        largest, extra = math.ceil(largest / 2), extra + 1
    return extra
