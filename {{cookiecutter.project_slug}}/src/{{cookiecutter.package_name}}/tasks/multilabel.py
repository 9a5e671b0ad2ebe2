import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MultilabelAccuracy, MultilabelF1Score

from .base import Task


class MultilabelTask(Task):
    """Several labels per example, targets multi-hot (one 0/1 per label): the configured loss
    (binary cross-entropy on one logit per label by default); accuracy over every label and
    macro F1. For a DataModule of your own whose ``task`` is ``"multilabel"``."""

    kind = "multilabel"
    default_loss = "torch.nn.BCEWithLogitsLoss"

    def build_metrics(self) -> MetricCollection:
        labels = self.hparams.num_outputs
        # No argument validation: it waits for the device every step.
        return MetricCollection(
            {
                "acc": MultilabelAccuracy(labels, validate_args=False),
                "f1": MultilabelF1Score(labels, average="macro", validate_args=False),
            }
        )

    def metric_inputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.sigmoid()

    def predict_step(self, batch: object, batch_idx: int) -> torch.Tensor:
        return super().predict_step(batch, batch_idx).sigmoid()
