"""The test set's predictions, collected once for everything that reads them after testing:
``test_predictions.csv``, ``channel_metrics.csv`` and the regression task's plot."""

from typing import Any

import lightning as L
import torch
from torch import nn

# How many of the first test examples keep their inputs (a series plot draws them).
KEPT_INPUTS = 3


class CollectTestOutputs(L.Callback):
    """Every tested example's prediction in the user's units (class probabilities, or values
    in the target's units), and for regression its target and the data's model-free
    baseline too, in test order, the same on every process.

    Under DDP, Lightning's DistributedSampler deals the test examples out in turn, padding
    the last round with repeats of the first: each batch is gathered from every process and
    interleaved back into the test order, and the repeats at the end are dropped.
    """

    def __init__(self) -> None:
        self.parts: dict[str, list[torch.Tensor]] = {}
        self.decode: nn.Module = nn.Identity()
        self.regression = False
        self.preprocessing: Any = None
        self.count: int | None = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.parts = {"outputs": [], "targets": [], "baseline": [], "inputs": []}
        datamodule = trainer.datamodule
        self.preprocessing = datamodule.preprocessing if datamodule is not None else None
        self.decode = nn.Identity()
        if self.preprocessing is not None:
            self.decode = self.preprocessing.decode().to(pl_module.device)
        self.regression = getattr(pl_module, "kind", None) == "regression"
        dataset = getattr(trainer.test_dataloaders, "dataset", None)
        self.count = len(dataset) if hasattr(dataset, "__len__") else None

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not (isinstance(outputs, dict) and "outputs" in outputs):
            return
        inputs, targets = batch
        kept = {"outputs": self.decode(outputs["outputs"]).float()}
        if self.regression:
            # Regression targets are standardised as the outputs are: the same decode.
            kept["targets"] = self.decode(targets).float()
            baseline = self.preprocessing.baseline(inputs) if self.preprocessing else None
            if baseline is not None:
                kept["baseline"] = self.decode(baseline).float()
        if batch_idx == 0:
            kept["inputs"] = inputs[:KEPT_INPUTS].float()
        for name, values in kept.items():
            self.parts[name].append(in_test_order(pl_module, values).cpu())

    def get(self, name: str) -> torch.Tensor | None:
        """``outputs``, ``targets``, ``baseline`` (model-free predictions) or ``inputs`` (of
        the first few examples, in model space) of the last test epoch; None if not kept."""
        parts = self.parts.get(name)
        if not parts:
            return None
        values = torch.cat(parts)
        return values[: KEPT_INPUTS if name == "inputs" else self.count]


def in_test_order(pl_module: L.LightningModule, values: torch.Tensor) -> torch.Tensor:
    """One batch from every process, interleaved as DistributedSampler dealt it out: every
    process tests the same number of batches of the same sizes, so batch by batch this is
    the test order."""
    if pl_module.trainer.world_size == 1:
        return values
    gathered = pl_module.all_gather(values)
    return gathered.transpose(0, 1).reshape(-1, *values.shape[1:])


def collected_test_outputs(trainer: L.Trainer) -> CollectTestOutputs | None:
    """The trainer's collector of test outputs (None in a trainer built without one)."""
    return next((c for c in trainer.callbacks if isinstance(c, CollectTestOutputs)), None)
