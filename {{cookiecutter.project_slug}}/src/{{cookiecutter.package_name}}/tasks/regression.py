from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn
from torchmetrics import MeanAbsoluteError, MetricCollection, R2Score

from ..utils.tested_outputs import collected_test_outputs
from .base import Task, without_state

# A series plot shows this many test windows; scatter plots at most this many points.
PLOTTED_SAMPLES = 3
SCATTER_POINTS = 5000
PLOTTED_CHANNELS = 3


class RegressionTask(Task):
    """The configured loss (mean squared error by default) on standardised outputs (e.g. the
    next step of a series); MAE and R² (averaged over outputs) in the target's own units,
    and a prediction-vs-target plot of the test set."""

    kind = "regression"
    default_loss = "torch.nn.MSELoss"

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        # Seconds between a series' steps, when the data knows its sampling rate, and how
        # many steps after a window's last its target lies.
        self.seconds_per_step: float | None = None
        self.horizon = 1
        # Standardised values -> the target's units; the data's fitted decode() (see setup).
        self.to_units: nn.Module = nn.Identity()
        self.output_names = [f"output {i}" for i in range(self.hparams.num_outputs)]

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        # A DataModule of your own may set no preprocessing: its metrics stay as it scales.
        preprocessing = datamodule.preprocessing if datamodule is not None else None
        if preprocessing is not None:
            self.to_units = without_state(preprocessing.decode())
            self.output_names = preprocessing.output_names
            self.seconds_per_step = getattr(preprocessing, "seconds_per_step", None)
            self.horizon = getattr(preprocessing, "horizon", 1)

    def build_metrics(self) -> MetricCollection:
        # R2Score infers the outputs (torchmetrics >= 1.5) and averages their scores.
        return MetricCollection({"mae": MeanAbsoluteError(), "r2": R2Score()})

    def update_metrics(
        self, stage: str, losses: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor
    ) -> None:
        # The loss stays standardised (every output weighs alike); the metrics are in units.
        super().update_metrics(stage, losses, self.to_units(outputs), self.to_units(targets))

    def test_figures(self) -> dict[str, Figure]:
        collected = collected_test_outputs(self.trainer)
        if collected is None:
            return {}
        outputs, targets = collected.get("outputs"), collected.get("targets")
        if outputs is None or targets is None:
            return {}
        inputs = collected.get("inputs")
        # A table's rows are unrelated examples; a series' windows follow each other in time.
        if inputs is None or inputs.dim() != 3:
            return {"predictions": table_figure(outputs, targets, self.output_names)}
        # Forecast windows hold the channels they forecast, so decode() gives their units.
        windows = self.to_units(inputs[:PLOTTED_SAMPLES].to(self.device)).float().cpu()
        figure = series_figure(
            outputs, targets, windows, self.output_names, self.seconds_per_step, self.horizon
        )
        return {"predictions": figure}


def table_figure(outputs: torch.Tensor, targets: torch.Tensor, names: list[str]) -> Figure:
    """Predicted against true value of each test row, per target column, in its units."""
    shown = min(outputs.shape[1], PLOTTED_CHANNELS)
    figure = Figure(figsize=(4.5 * shown, 4.5), layout="constrained")
    for column, axes in enumerate(figure.subplots(1, shown, squeeze=False).flat):
        target, output = targets[:SCATTER_POINTS, column], outputs[:SCATTER_POINTS, column]
        axes.scatter(target, output, s=8, alpha=0.6)
        low, high = float(target.min()), float(target.max())
        axes.plot([low, high], [low, high], color="black", linewidth=1)
        mae = float((output - target).abs().mean())
        axes.set(
            title=f"test rows: {names[column]} (MAE {mae:.4g})",
            xlabel=f"true {names[column]}",
            ylabel=f"predicted {names[column]}",
        )
    return figure


def series_figure(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    inputs: torch.Tensor,
    names: list[str],
    seconds_per_step: float | None,
    horizon: int,
) -> Figure:
    """Per channel (a row, named): the first test windows over time (seconds when the
    sampling rate is known) with their true and forecast step ``horizon`` steps after the
    last, then every test forecast against its target, all in the channel's units."""
    channels, samples = min(outputs.shape[1], PLOTTED_CHANNELS), len(inputs)
    figure = Figure(figsize=(3.2 * (samples + 1), 2.6 * channels), layout="constrained")
    grid = figure.subplots(channels, samples + 1, squeeze=False)
    step = seconds_per_step or 1.0
    time = torch.arange(inputs.shape[1]) * step
    ahead = (inputs.shape[1] - 1 + horizon) * step
    unit = "time (s)" if seconds_per_step else "step"
    every = max(1, len(targets) // SCATTER_POINTS)
    for channel, row in enumerate(grid):
        for sample, axes in enumerate(row[:samples]):
            axes.plot(time, inputs[sample, :, channel], color="gray", label="input")
            axes.plot(ahead, targets[sample, channel], "o", color="black", label="true")
            axes.plot(ahead, outputs[sample, channel], "x", color="red", label="forecast")
            axes.set(xlabel=unit, ylabel=names[channel] if sample == 0 else None)
            if channel == 0:
                axes.set_title(f"test window {sample + 1}")
        target, output = targets[::every, channel], outputs[::every, channel]
        scatter = row[samples]
        scatter.scatter(target, output, s=4, alpha=0.4)
        low, high = float(target.min()), float(target.max())
        scatter.plot([low, high], [low, high], color="black", linewidth=1)
        scatter.set(xlabel=f"true {names[channel]}", ylabel="forecast")
        if channel == 0:
            scatter.set_title("every test window")
    grid[0][0].legend(fontsize="small")
    return figure
