from typing import Any

import torch
from matplotlib.figure import Figure
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from ..utils import plots
from .base import Task

# Test inputs kept for the sample-predictions figure.
SAMPLES = 16


class ClassificationTask(Task):
    """The configured loss (cross-entropy by default) on logits; accuracy, macro F1 and a
    test confusion matrix."""

    kind = "classification"
    default_loss = "torch.nn.CrossEntropyLoss"

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.confusion = MulticlassConfusionMatrix(self.hparams.num_outputs)
        self.test_confusion: torch.Tensor | None = None
        self.test_samples: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def build_metrics(self) -> MetricCollection:
        classes = self.hparams.num_outputs
        # No argument validation: it waits for the device every step, and cross-entropy
        # already rejects targets out of range.
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(classes, average="micro", validate_args=False),
                "f1": MulticlassF1Score(classes, average="macro", validate_args=False),
            }
        )

    def example_targets(self, predicted: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(predicted), dtype=torch.long, device=predicted.device)

    def metric_inputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(dim=-1)

    def on_test_epoch_start(self) -> None:
        self.confusion.reset()
        self.test_samples = None

    def test_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> dict[str, torch.Tensor]:
        loss, outputs = self.step(batch, "test")
        inputs, targets = batch
        predicted = outputs.argmax(dim=-1)
        self.confusion.update(predicted, targets)
        if self.test_samples is None:
            self.test_samples = (
                inputs[:SAMPLES].detach().float().cpu(),
                predicted[:SAMPLES].cpu(),
                targets[:SAMPLES].cpu(),
            )
        return {"loss": loss, "outputs": outputs.detach()}

    def on_test_epoch_end(self) -> None:
        # compute() gathers across processes, so every process calls it here; only the
        # first one draws.
        self.test_confusion = self.confusion.compute().cpu()

    def test_figures(self) -> dict[str, Figure]:
        names = self.hparams.class_names or [str(i) for i in range(self.hparams.num_outputs)]
        figures = {}
        if self.test_confusion is not None:
            figures["confusion_matrix"] = plots.confusion_matrix(self.test_confusion.numpy(), names)
        if self.test_samples is not None:
            inputs, predicted, targets = self.test_samples
            # Series data names its channels and knows its sampling rate; other data does not.
            datamodule = self.trainer.datamodule if self._trainer else None
            preprocessing = getattr(datamodule, "preprocessing", None)
            figures["test_samples"] = plots.sample_predictions(
                inputs.numpy(),
                predicted.tolist(),
                targets.tolist(),
                names,
                channel_names=getattr(preprocessing, "channels", None),
                seconds_per_step=getattr(preprocessing, "seconds_per_step", None),
            )
        return figures

    def predict_step(self, batch: object, batch_idx: int) -> torch.Tensor:
        return super().predict_step(batch, batch_idx).softmax(dim=-1)
