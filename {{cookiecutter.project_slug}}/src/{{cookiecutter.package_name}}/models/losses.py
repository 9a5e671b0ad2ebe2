"""Losses of your own, picked with ``loss=<name>`` (``configs/loss/<name>.yaml`` naming its
``_target_``) or ``loss._target_=<module>.<name>`` on the command line.

A loss is any callable ``loss(outputs, targets) -> Tensor``: an ``nn.Module`` (built from its
config's other keys), or a function (called with them as keyword arguments).
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Cross-entropy that down-weights the examples the model already gets right: each
    example's log-loss times ``(1 - p_true) ** gamma`` (Lin et al., 2017), for imbalanced or
    easy-heavy classes. ``gamma=0`` and no ``alpha`` is cross-entropy.

    Written here because torch has no multi-class focal loss (torchvision's
    ``sigmoid_focal_loss`` is per-logit binary, and torchvision is an optional extra).
    """

    def __init__(self, gamma: float = 2.0, alpha: Sequence[float] | torch.Tensor | None = None):
        super().__init__()
        self.gamma = gamma
        # Per-class weights, moved to the device with the task.
        weights = None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32)
        self.register_buffer("alpha", weights)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        if self.alpha is not None:
            loss = loss * self.alpha[targets]
        return loss.mean()
