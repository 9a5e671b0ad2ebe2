"""What turns a user's raw files into model inputs, and model outputs into the user's units.

One object per data option, fitted on the training split only and made of plain values
(numbers, strings, lists), so it travels in the checkpoint (``weights_only=True`` still
loads it) and as ``preprocessing.json`` in the run folder. Training, evaluation,
``predict.py``, ``serve.py`` and ``export.py`` all apply this same object: a deployed model
sees exactly what the experiment saw, and answers in the units of the user's data.
"""

import dataclasses
import importlib
import json
import math
import pickle
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..utils.errors import CheckpointError, DataError
from .files import read_npy

# The checkpoint entry and the run-folder file that hold the fitted object.
CHECKPOINT_KEY = "preprocessing"
FILE = "preprocessing.json"
# Where ``to_dict`` names its class from: only this package's classes are ever rebuilt.
PACKAGE = __name__.rsplit(".", 2)[0]


@dataclasses.dataclass
class Examples:
    """Raw examples read from one source, each with the key it is reported under:
    ``source`` (a file name) and ``index`` (its row, start frame, ...)."""

    sources: list[str]
    indices: list[int]
    raw: torch.Tensor  # (N, *raw shape), float32, in the units of the user's files

    def __len__(self) -> int:
        return len(self.raw)


class Affine(nn.Module):
    """``x * scale + shift`` per feature (the last dimensions): a standardisation or its
    inverse, as tensor ops that ONNX and TorchScript export."""

    # Nested lists broadcast as a tensor of their shape: [[[s]]] per image channel (C, 1, 1).
    def __init__(self, scale: Sequence[Any] | float, shift: Sequence[Any] | float) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    @classmethod
    def standardise(cls, mean: Sequence[float] | float, std: Sequence[float] | float) -> "Affine":
        mean_, std_ = torch.tensor(mean), torch.tensor(std)
        return cls((1 / std_).tolist(), (-mean_ / std_).tolist())


class Probabilities(nn.Module):
    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(dim=-1)


class Preprocessing(ABC):
    """The fitted transforms of one data option; subclasses are dataclasses of plain values.

    ``read`` reads a user's file through the same code as training, ``encode`` maps raw
    examples to model inputs and ``decode`` model outputs to the user's units; both are
    tensor ops only, so export puts them inside the exported graph.
    """

    # Formats ``read`` accepts, and what ``Examples.indices`` count in predictions.csv.
    suffixes: ClassVar[tuple[str, ...]]
    index_name: ClassVar[str] = "row"

    kind: str  # "classification" or "regression"

    @property
    @abstractmethod
    def raw_shape(self) -> tuple[int, ...]:
        """The shape of one raw example as ``read`` returns it (and ``encode`` takes it)."""

    @property
    @abstractmethod
    def output_names(self) -> list[str]:
        """Class names for classification; the predicted columns (with units) for regression."""

    @abstractmethod
    def read(self, path: Path) -> Examples:
        """Every example in a file a user brings, raw, as the data's own reader reads it."""

    @abstractmethod
    def from_json(self, inputs: list[Any]) -> Examples:
        """Raw examples as ``serve.py`` receives them, one per item of ``inputs``."""

    @abstractmethod
    def encode(self) -> nn.Module:
        """Raw examples -> what the model was trained on."""

    def decode(self) -> nn.Module:
        """Model outputs -> the user's units: class probabilities, or values in the target's
        own units (override for regression with a target transform)."""
        return Probabilities() if self.kind == "classification" else nn.Identity()

    def baseline(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """A model-free prediction from the model's inputs, in the model's output space, that
        a trained model should beat (e.g. persistence for forecasting); None: no baseline."""
        return None

    def steps(self) -> list[str]:
        """In words, what ``read`` does before ``encode``: the part of the preprocessing that
        is not tensor ops, which a caller of an exported model does itself (export writes it
        into ``preprocess.json``), with the fields that are not per-feature statistics (which
        ``encode`` and ``decode`` apply inside the graph); override to say more."""
        assert dataclasses.is_dataclass(self)
        shape = ", ".join(str(size) for size in self.raw_shape)
        settings = [
            f"{name}={value}"
            for name, value in dataclasses.asdict(self).items()
            if name != "kind" and value is not None and not _is_statistics(value)
        ]
        reading = f"read each {' / '.join(self.suffixes)} file as {type(self).__name__}.read does"
        return [
            f"{reading}{' with ' + ', '.join(settings) if settings else ''}, "
            f"one example per {self.index_name}",
            f"give the examples as float32 numbers of shape (N, {shape}), "
            "in the units of the files (the model scales them itself)",
        ]

    def to_dict(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        name = f"{type(self).__module__.removeprefix(PACKAGE + '.')}.{type(self).__qualname__}"
        return {"class": name, **dataclasses.asdict(self)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _is_statistics(value: Any) -> bool:
    """Fitted numbers per feature or channel (lists of floats: a mean, a deviation), which
    the graph applies; a list of whole numbers (an image size) is a setting."""
    return (
        isinstance(value, list)
        and any(isinstance(item, float) for item in value)
        and all(isinstance(item, int | float) and not isinstance(item, bool) for item in value)
    )


def from_dict(state: dict[str, Any]) -> Preprocessing:
    """The object ``to_dict`` described; only this package's Preprocessing classes."""
    state = dict(state)
    module, _, name = str(state.pop("class", "")).rpartition(".")
    try:
        cls = getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, Preprocessing)):
        raise CheckpointError(f"unknown preprocessing {module}.{name}; re-run the training")
    return cls(**state)


def from_checkpoint(checkpoint: dict[str, Any], path: Path | str) -> Preprocessing:
    state = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path} carries no preprocessing: its data set none (a DataModule of your own "
            "sets self.preprocessing in build_splits) or it predates them; train the run again"
        )
    return from_dict(state)


def as_tensor(inputs: Any, shape: Sequence[int], what: str) -> torch.Tensor:
    """Numbers ``(N, *shape)`` from nested lists or an array, or one line saying why not."""
    try:
        raw = torch.as_tensor(inputs, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        raise DataError(
            f"{what} is not an array of numbers ({str(error).splitlines()[0]})"
        ) from None
    if raw.dim() == len(shape):
        raw = raw.unsqueeze(0)
    if tuple(raw.shape[1:]) != tuple(shape):
        raise DataError(
            f"{what} has shape {tuple(raw.shape)}; each example must have shape {tuple(shape)}"
        )
    return raw


def load_array(path: Path) -> torch.Tensor:
    """The tensor of numbers in a .npy, .pt or header-less .csv file, in its stored shape."""
    readers = {
        ".npy": lambda: torch.from_numpy(read_npy(path)),
        ".pt": lambda: torch.load(path, weights_only=True),
        ".csv": lambda: torch.from_numpy(np.loadtxt(path, delimiter=",", ndmin=2)),
    }
    suffix = path.suffix.lower()
    if suffix not in readers:
        raise DataError(
            f"{path}: cannot read {suffix or 'extension-less'} files; use .npy, .pt or .csv"
        )
    try:
        raw = readers[suffix]()
    except (ValueError, EOFError, OSError, RuntimeError, pickle.UnpicklingError) as error:
        raise DataError(
            f"{path} is not a readable {suffix} file ({str(error).splitlines()[0]}); "
            "it may be truncated: write it again"
        ) from error
    if not isinstance(raw, torch.Tensor):
        raise DataError(f"{path} does not hold a tensor of numbers")
    return raw


def read_array(path: Path, shape: Sequence[int]) -> torch.Tensor:
    """Examples ``(N, *shape)`` from a .npy, .pt or header-less .csv file of numbers (one
    example per row, flattened or not)."""
    raw = load_array(path)
    size = math.prod(shape)
    if raw.numel() % size or (raw.dim() > 1 and math.prod(raw.shape[1:]) != size):
        raise DataError(
            f"{path}: inputs of shape {tuple(raw.shape)} do not fit this data's input shape "
            f"{tuple(shape)}; give one example per row"
        )
    return raw.float().reshape(-1, *shape)
