from collections.abc import Sequence

import torch
from torch import nn

from .shapes import image_or_sequence


class CNN(nn.Module):
    """Conv blocks with pooling, then a linear head.

    Images use 2-D convolutions; sequences ``(T, F)`` use 1-D convolutions over time.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.is_sequence = image_or_sequence(input_shape) == "sequence"
        conv, norm, pool = (
            (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)
            if self.is_sequence
            else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        )
        in_channels = input_shape[1] if self.is_sequence else input_shape[0]
        blocks: list[nn.Module] = []
        for out_channels in channels:
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
