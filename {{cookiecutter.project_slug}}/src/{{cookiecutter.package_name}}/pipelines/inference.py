"""A trained model from raw inputs to the user's units: the one path predict.py, serve.py
and export.py share, so all three answer exactly alike."""

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.preprocessing import Examples, Preprocessing, from_checkpoint
from ..models.outputs import Prediction
from ..utils.checkpoint_reader import read_checkpoint, weights_error


class Predictor:
    """``preprocessing.encode -> model -> preprocessing.decode`` as one module, built from a
    checkpoint alone: the training data need not be on the machine that predicts."""

    def __init__(
        self, model: nn.Module, preprocessing: Preprocessing, device: torch.device
    ) -> None:
        self.preprocessing = preprocessing
        self.device = device
        self.module = nn.Sequential(
            preprocessing.encode(), model, Prediction(), preprocessing.decode()
        )
        self.module.eval().to(device)

    @classmethod
    def load(cls, checkpoint: Path, device: torch.device | str = "cpu") -> "Predictor":
        device = torch.device(device)
        saved = read_checkpoint(checkpoint, device)
        return cls(load_model(saved, checkpoint), from_checkpoint(saved, checkpoint), device)

    def __call__(self, raw: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Outputs in the user's units (class probabilities, or target values), on the CPU."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(raw), batch_size):
                batch = raw[start : start + batch_size].to(self.device)
                outputs.append(self.module(batch).float().cpu())
        return torch.cat(outputs) if outputs else torch.zeros(0, len(self.names))

    @property
    def names(self) -> list[str]:
        return self.preprocessing.output_names

    @property
    def is_classifier(self) -> bool:
        return self.preprocessing.kind == "classification"

    def header(self) -> list[str]:
        """The columns of predictions.csv (and the keys of a served prediction)."""
        return header(self.preprocessing)

    def rows(self, examples: Examples, outputs: torch.Tensor) -> Iterable[list[Any]]:
        """One row per example: its key, the class by name, and the outputs."""
        return rows(self.preprocessing, examples.sources, examples.indices, outputs)


def load_model(saved: dict[str, Any], path: Path) -> nn.Module:
    """The model alone from a checkpoint's config and weights: building the training task
    (``tasks.load_task``) would import Lightning, seconds of start-up for a server."""
    from hydra.utils import instantiate

    hparams = saved["hyper_parameters"]
    model = instantiate(
        hparams["model"],
        input_shape=tuple(hparams["input_shape"]),
        num_outputs=hparams["num_outputs"],
    )
    weights = {
        name.removeprefix("model."): value
        for name, value in saved["state_dict"].items()
        if name.startswith("model.")
    }
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise weights_error(path, hparams, error) from error
    return model


def header(preprocessing: Preprocessing) -> list[str]:
    predicted = ["predicted"] if preprocessing.kind == "classification" else []
    return ["source", preprocessing.index_name, *predicted, *preprocessing.output_names]


def rows(
    preprocessing: Preprocessing, sources: list[str], indices: list[int], outputs: torch.Tensor
) -> Iterable[list[Any]]:
    names = preprocessing.output_names
    is_classifier = preprocessing.kind == "classification"
    for source, index, values in zip(sources, indices, outputs.tolist(), strict=True):
        predicted = [names[max(range(len(values)), key=values.__getitem__)]]
        yield [source, index, *(predicted if is_classifier else []), *values]


def write_predictions(
    path: Path,
    preprocessing: Preprocessing,
    sources: list[str],
    indices: list[int],
    outputs: torch.Tensor,
) -> None:
    """predictions.csv (or test_predictions.csv): ``header`` and one row per example."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header(preprocessing))
        writer.writerows(rows(preprocessing, sources, indices, outputs))
