"""Per-output test scores in the user's units, beside a model-free baseline.

One mean R² over 72 motion-capture channels hides the few that fail, and a forecast that
looks good may still lose to repeating the last frame. After testing a regression model this
writes ``channel_metrics.csv`` (MAE and R² of every output, and the baseline's MAE where the
data has one), logs ``test/baseline_mae`` and prints one line comparing the two.
"""

import csv
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torchmetrics.functional import r2_score

from .console import console

FILE = "channel_metrics.csv"


class ChannelMetrics(L.Callback):
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / FILE
        self.parts: dict[str, list[torch.Tensor]] = {}
        self.decode: torch.nn.Module | None = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.parts = {"outputs": [], "targets": [], "baseline": []}
        self.decode = None
        preprocessing = trainer.datamodule.preprocessing if trainer.datamodule else None
        if getattr(pl_module, "kind", None) == "regression" and preprocessing is not None:
            self.preprocessing = preprocessing
            self.decode = preprocessing.decode().to(pl_module.device)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.decode is None or not (isinstance(outputs, dict) and "outputs" in outputs):
            return
        inputs, targets = batch
        self.parts["outputs"].append(self.decode(outputs["outputs"]).float())
        self.parts["targets"].append(self.decode(targets).float())
        baseline = self.preprocessing.baseline(inputs)
        if baseline is not None:
            self.parts["baseline"].append(self.decode(baseline).float())

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.decode is None or not self.parts["outputs"]:
            return
        # Every process's share (DDP): the same numbers on each, so all log alike.
        joined = {
            name: pl_module.all_gather(torch.cat(parts)).reshape(-1, *parts[0].shape[1:]).cpu()
            for name, parts in self.parts.items()
            if parts
        }
        outputs, targets = joined["outputs"], joined["targets"]
        baseline = joined.get("baseline")
        names = self.preprocessing.output_names
        mae = (outputs - targets).abs().mean(dim=0)
        r2 = r2_score(outputs, targets, multioutput="raw_values") if len(targets) > 1 else None
        baseline_mae = None if baseline is None else (baseline - targets).abs().mean(dim=0)
        if baseline_mae is not None:
            # Equal on every process (gathered above): averaging them changes nothing.
            pl_module.log("test/baseline_mae", baseline_mae.mean(), sync_dist=True)
        if trainer.is_global_zero:
            self.write(names, mae, r2, baseline_mae)
            if baseline_mae is not None:
                self.compare(float(mae.mean()), float(baseline_mae.mean()))
        self.parts = {}

    def write(
        self,
        names: list[str],
        mae: torch.Tensor,
        r2: torch.Tensor | None,
        baseline_mae: torch.Tensor | None,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as file:
            writer = csv.writer(file)
            with_baseline = ["baseline_mae"] if baseline_mae is not None else []
            writer.writerow(["output", "mae", "r2", *with_baseline])
            for index, name in enumerate(names):
                row = [name, float(mae[index]), "" if r2 is None else float(r2[index])]
                if baseline_mae is not None:
                    row.append(float(baseline_mae[index]))
                writer.writerow(row)

    def compare(self, model: float, baseline: float) -> None:
        verdict = "beats it" if model < baseline else "does NOT beat it"
        console.print(
            f"test MAE {model:.4g} (model) vs {baseline:.4g} (persistence baseline, the last "
            f"step repeated): the model {verdict}; per output in {self.path}",
            soft_wrap=True,
        )
