from typing import Any

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torchmetrics import MeanAbsoluteError, MetricCollection, R2Score

from .base import Task

# The plot shows this many test steps and at most this many scatter points.
PLOTTED_STEPS = 200
SCATTER_POINTS = 5000
PLOTTED_CHANNELS = 3


class RegressionTask(Task):
    """Mean squared error on real-valued outputs (e.g. the next step of a series);
    MAE and R² (averaged over outputs), and a prediction-vs-target plot of the test set."""

    kind = "regression"

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.test_outputs: list[torch.Tensor] = []
        self.test_targets: list[torch.Tensor] = []

    def build_metrics(self) -> MetricCollection:
        # R2Score infers the outputs (torchmetrics >= 1.5) and averages their scores.
        return MetricCollection({"mae": MeanAbsoluteError(), "r2": R2Score()})

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(outputs, targets)

    def on_test_epoch_start(self) -> None:
        self.test_outputs.clear()
        self.test_targets.clear()

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, outputs = self.step(batch, "test")
        self.test_outputs.append(outputs.detach().float().cpu())
        self.test_targets.append(batch[1].detach().float().cpu())
        return loss

    def test_figures(self) -> dict[str, Figure]:
        if not self.test_outputs:
            return {}
        outputs, targets = torch.cat(self.test_outputs), torch.cat(self.test_targets)
        figure = Figure(figsize=(11, 4), layout="constrained")
        over_time, scatter = figure.subplots(1, 2, width_ratios=[2, 1])
        shown = min(len(outputs), PLOTTED_STEPS)
        for channel in range(min(outputs.shape[1], PLOTTED_CHANNELS)):
            (line,) = over_time.plot(targets[:shown, channel], label=f"target {channel}")
            over_time.plot(
                outputs[:shown, channel],
                "--",
                color=line.get_color(),
                label=f"prediction {channel}",
            )
        over_time.set(title="test windows in order", xlabel="window", ylabel="value")
        over_time.legend(fontsize="small", ncols=2)
        every = max(1, targets.numel() // SCATTER_POINTS)
        flat_targets, flat_outputs = targets.flatten()[::every], outputs.flatten()[::every]
        scatter.scatter(flat_targets, flat_outputs, s=4, alpha=0.4)
        low, high = float(flat_targets.min()), float(flat_targets.max())
        scatter.plot([low, high], [low, high], color="black", linewidth=1)
        scatter.set(title="prediction vs target", xlabel="target", ylabel="prediction")
        return {"predictions": figure}
