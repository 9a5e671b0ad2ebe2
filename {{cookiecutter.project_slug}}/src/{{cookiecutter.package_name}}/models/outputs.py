"""What a model's forward returns: its prediction ``(batch, outputs)``, or a tuple whose
first element is the prediction and whose others are for the model's own
``loss(outputs, targets)`` (a VAE's mean and log-variance, say). Metrics, predict, serve
and export use the prediction alone.

Torch alone, no Hydra or Lightning: predict and serve import it and start fast.
"""

import torch
from torch import nn

# What a model's forward returns: its prediction, or the prediction first and more after it.
Outputs = torch.Tensor | tuple[torch.Tensor, ...]


def prediction(outputs: Outputs) -> torch.Tensor:
    """The prediction among a model's outputs: the first when it returns several."""
    return outputs if isinstance(outputs, torch.Tensor) else outputs[0]


class Prediction(nn.Module):
    """``prediction`` as a module, placed after a model where only its prediction is used
    (predict, serve, export); it adds nothing to an exported graph."""

    def forward(self, outputs: Outputs) -> torch.Tensor:
        return prediction(outputs)
