"""Figures of a run, drawn on ``matplotlib.figure.Figure`` (no pyplot: works headless).

Each function takes plain numbers (lists, NumPy arrays) and returns a figure whose size
depends only on what it shows, so its PNG has a predictable pixel size at a given dpi.
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Inches per learning-curve panel and per sample cell.
PANEL_SIZE = (4.0, 3.2)
CELL_SIZE = 1.6
# Beyond this many classes, cell counts and tick labels would overlap.
ANNOTATED_CLASSES = 20


def learning_curves(history: Sequence[dict[str, float]]) -> Figure:
    """One panel per metric (loss first), train and val per epoch."""
    return compared_learning_curves({"": history})


def compared_learning_curves(histories: Mapping[str, Sequence[dict[str, float]]]) -> Figure:
    """``learning_curves`` of several runs in the same panels: a colour per run (named in
    the legend), dashed for train and solid for val."""
    names = sorted(
        {
            key.split("/", 1)[1]
            for history in histories.values()
            for row in history
            for key in row
            if key.startswith(("train/", "val/"))
        },
        key=lambda name: (name != "loss", name),
    )
    figure = Figure(figsize=(PANEL_SIZE[0] * len(names), PANEL_SIZE[1]), layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for index, (run, history) in enumerate(histories.items()):
            for stage in ("train", "val"):
                points = [
                    (row["epoch"], row[f"{stage}/{name}"])
                    for row in history
                    if f"{stage}/{name}" in row
                ]
                if not points:
                    continue
                epochs, values = zip(*points, strict=True)
                dashed = "--" if stage == "train" else "-"
                style = {"color": f"C{index}", "linestyle": dashed} if len(histories) > 1 else {}
                marker = "o" if len(points) < 30 else None
                ax.plot(epochs, values, marker=marker, label=f"{run} {stage}".strip(), **style)
        ax.set(title=name, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return figure


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Counts of true (rows) against predicted (columns) classes, coloured by row share."""
    classes = len(matrix)
    side = min(2.0 + 0.45 * classes, 16.0)
    figure = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = figure.subplots()
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, label="share of the true class")
    if classes <= ANNOTATED_CLASSES:
        ticks = range(classes)
        ax.set_xticks(ticks, class_names, rotation=90 if classes > 10 else 0)
        ax.set_yticks(ticks, class_names)
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if shares[row, column] > 0.5 else "black"
            ax.text(column, row, int(count), ha="center", va="center", color=color, fontsize=8)
    ax.set(title="confusion matrix (test)", xlabel="predicted", ylabel="true")
    return figure


def sample_predictions(
    inputs: np.ndarray,
    predicted: Sequence[int],
    targets: Sequence[int],
    class_names: Sequence[str],
    columns: int = 4,
    channel_names: Sequence[str] | None = None,
    seconds_per_step: float | None = None,
) -> Figure:
    """A grid of inputs titled ``predicted (true)``, green when right and red when wrong.

    Inputs of shape (C, H, W) are shown as images; sequences (T, F) as one line per channel
    over time (seconds when ``seconds_per_step`` is known, else steps), the channels named
    in a legend; vectors as lines.
    """
    rows = math.ceil(len(inputs) / columns)
    figure = Figure(figsize=(CELL_SIZE * columns, CELL_SIZE * rows), layout="constrained")
    for ax, x, guess, truth in zip(
        figure.subplots(rows, columns, squeeze=False).flat, inputs, predicted, targets, strict=False
    ):
        if x.ndim == 3:
            _show_image(ax, x)
            ax.set_xticks([])
        elif x.ndim == 2:
            time = np.arange(len(x)) * (seconds_per_step or 1.0)
            ax.plot(time, x, linewidth=0.8, label=channel_names)
            ax.set_xlabel("time (s)" if seconds_per_step else "step", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
        else:
            ax.plot(x, linewidth=0.8)
            ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            f"{class_names[guess]} ({class_names[truth]})",
            color="green" if guess == truth else "red",
            fontsize=9,
        )
    for ax in figure.axes[len(inputs) :]:
        ax.set_axis_off()
    if channel_names and len(inputs) and inputs[0].ndim == 2:
        figure.axes[0].legend(fontsize=6, ncols=2)
    figure.suptitle("test samples: predicted (true)", fontsize=10)
    return figure


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """(C, H, W) of any scale: grey for one channel, colour for three, else channel 0."""
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    if len(scaled) == 3:
        ax.imshow(np.moveaxis(scaled, 0, -1))
    else:
        ax.imshow(scaled[0], cmap="gray")
