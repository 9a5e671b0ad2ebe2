from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from .base import Task


class ClassificationTask(Task):
    """Cross-entropy on logits; accuracy, macro F1 and a test confusion matrix."""

    kind = "classification"

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.confusion = MulticlassConfusionMatrix(self.hparams.num_outputs)

    def build_metrics(self) -> MetricCollection:
        classes = self.hparams.num_outputs
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(classes, average="micro"),
                "f1": MulticlassF1Score(classes, average="macro"),
            }
        )

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)

    def metric_inputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(dim=-1)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, outputs = self.step(batch, "test")
        self.confusion.update(outputs.argmax(dim=-1), batch[1])
        return loss

    def predict_step(self, batch: object, batch_idx: int) -> torch.Tensor:
        return super().predict_step(batch, batch_idx).softmax(dim=-1)
