import math
from collections.abc import Sequence

import torch
from torch import nn

from .shapes import as_sequence, sequence_shape


def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """Fixed positional encoding of "Attention Is All You Need", shape (length, dim)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return encoding


class Transformer(nn.Module):
    """Transformer encoder over the sequence, mean-pooled into a linear head."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        steps, features = sequence_shape(input_shape)
        self.embed = nn.Linear(features, d_model)
        self.register_buffer("position", sinusoidal_encoding(steps, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(as_sequence(x))
        encoded = self.encoder(tokens + self.position[: tokens.shape[1]])
        return self.head(self.norm(encoded.mean(dim=1)))
