from collections.abc import Sequence

import torch
from torch import nn

from .shapes import as_sequence, sequence_shape


class RNN(nn.Module):
    """LSTM or GRU over the sequence; the last step's state feeds a linear head."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.1,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        cells = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in cells:
            raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}")
        _, features = sequence_shape(input_shape)
        self.rnn = cells[cell](
            features,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(as_sequence(x))
        return self.head(outputs[:, -1])
