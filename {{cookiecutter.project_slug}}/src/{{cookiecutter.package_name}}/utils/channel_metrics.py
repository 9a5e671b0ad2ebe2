"""Per-output test scores in the user's units, beside a model-free baseline.

One mean R² over 72 motion-capture channels hides the few that fail, and a forecast that
looks good may still lose to repeating the last frame. After testing a regression model this
writes ``channel_metrics.csv`` (MAE and R² of every output, and the baseline's MAE where the
data has one), logs ``test/baseline_mae`` and prints one line comparing the two.
"""

import csv
from pathlib import Path

import lightning as L
import torch
from torchmetrics.functional import r2_score

from .console import console
from .tested_outputs import collected_test_outputs

FILE = "channel_metrics.csv"


class ChannelMetrics(L.Callback):
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / FILE

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        collected = collected_test_outputs(trainer)
        if collected is None or collected.preprocessing is None or not collected.regression:
            return
        # Every process's share (DDP) is in them: the same numbers on each, so all log alike.
        outputs, targets = collected.get("outputs"), collected.get("targets")
        if outputs is None or targets is None:
            return
        baseline = collected.get("baseline")
        names = collected.preprocessing.output_names
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
