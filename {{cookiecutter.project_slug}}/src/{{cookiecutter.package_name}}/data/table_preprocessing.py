"""Columns from CSV files, class labels from any column, and the fitted preprocessing of
a table (``TablePreprocessing``), kept apart from the DataModule so that predicting needs
no Lightning.

The standard library's csv module is enough here: pandas would be a heavy dependency for
reading a header and some numbers, and numpy's genfromtxt renames header fields.
"""

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils.errors import DataError
from .files import read_text
from .preprocessing import Affine, Examples, Preprocessing, read_array

MISSING = {"", "nan", "NaN", "NA", "N/A", "null", "None"}


def _as_numbers(cells: list[str]) -> np.ndarray | None:
    try:
        return np.array(
            [np.nan if cell.strip() in MISSING else float(cell) for cell in cells],
            dtype=np.float64,
        )
    except ValueError:
        return None


def parse_cell(value: object) -> float | None:
    """One value as a CSV cell reads it (a number, or NaN when missing), or None when it is
    no number; for values that come from elsewhere than a file, e.g. JSON."""
    if value is None:
        return float("nan")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        numbers = _as_numbers([value])
        return None if numbers is None else float(numbers[0])
    return None


def first_text_cell(column: np.ndarray) -> tuple[int, str]:
    """The data row (from 0) and text of the first cell of ``column`` that is no number."""
    row = next(i for i, cell in enumerate(column) if _as_numbers([str(cell)]) is None)
    return row, str(column[row])


def read_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Columns by header name: numbers as float (missing cells NaN), anything else as text."""
    try:
        rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
    except csv.Error as error:  # e.g. a field over csv.field_size_limit()
        raise DataError(f"{path} is not a readable CSV file: {error}") from None
    if len(rows) < 2:
        raise DataError(f"{path} needs a header row and at least one row of values")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    if any(len(row) != len(header) for row in body):
        raise DataError(f"{path}: every row must have the {len(header)} columns of the header")
    columns = {}
    for index, name in enumerate(header):
        cells = [row[index] for row in body]
        numbers = _as_numbers(cells)
        columns[name] = numbers if numbers is not None else np.array(cells)
    return columns


def is_numeric(column: np.ndarray) -> bool:
    return np.issubdtype(column.dtype, np.number)


def check_columns(
    path: str | Path,
    columns: dict[str, np.ndarray],
    wanted: list[str],
    numeric: list[str],
    hint: str,
) -> None:
    """Raise for the first of ``wanted`` that ``columns`` lacks, then for the first of
    ``numeric`` that holds text; ``hint`` says how to choose other columns."""
    missing = [name for name in wanted if name not in columns]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r}; it has {list(columns)}")
    text = [name for name in numeric if not is_numeric(columns[name])]
    if text:
        raise DataError(f"column {text[0]!r} of {path} is not numeric; {hint}")


def label_names(values: np.ndarray) -> list[str]:
    """Names of the distinct labels, sorted (numerically when they are numbers)."""
    if is_numeric(values):
        if np.isnan(values).any():
            raise DataError("the label column has missing values; every row needs a label")
        return [f"{v:g}" for v in np.unique(values)]
    return [str(v) for v in np.unique(values)]


def encode_labels(values: np.ndarray, names: list[str]) -> np.ndarray:
    """Class indices of ``values`` in ``names`` (as made by ``label_names``)."""
    text = [f"{v:g}" for v in values] if is_numeric(values) else [str(v) for v in values]
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(text) - index.keys())
    if unknown:
        raise DataError(f"labels {unknown[:5]} are not among the classes {names}")
    return np.array([index[t] for t in text], dtype=np.int64)


class FillMissing(nn.Module):
    """NaN -> a value per feature (the training mean), as tensor ops that export."""

    def __init__(self, value: list[float]) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(value, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(torch.isnan(x), self.value, x)


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


@dataclass
class TablePreprocessing(Preprocessing):
    """The feature columns in training order, their training mean and deviation (missing
    cells become the mean), and the target: class names, or its mean and deviation so the
    model's standardised outputs come back in the target's own units."""

    suffixes = (".csv", ".npy", ".pt")
    index_name = "row"

    kind: str
    features: list[str]
    mean: list[float]
    std: list[float]
    target: str
    classes: list[str] | None = None
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return (len(self.features),)

    @property
    def output_names(self) -> list[str]:
        return list(self.classes) if self.classes is not None else [self.target]

    def read(self, path: Path) -> Examples:
        """A CSV file with a header (its feature columns picked by name, other columns
        ignored), or an array of rows of the features in training order (.npy, .pt)."""
        if path.suffix.lower() != ".csv":
            raw = read_array(path, self.raw_shape)
            return Examples([path.name] * len(raw), list(range(len(raw))), raw)
        columns = read_csv(path)
        missing = [name for name in self.features if name not in columns]
        if missing:
            raise DataError(
                f"{path} lacks the column(s) {_quoted(missing)} that this model reads; its "
                f"header (first row) names {_quoted(list(columns))}"
            )
        for name in self.features:
            if not is_numeric(columns[name]):
                row, cell = first_text_cell(columns[name])
                raise DataError(
                    f"{path}: column {name!r} holds text ({cell!r} in data row {row}); the "
                    "model reads numbers (leave a cell empty when it is missing)"
                )
        ignored = [name for name in columns if name not in self.features]
        if ignored:
            # One line, not an error: the training file itself holds the target column.
            print(f"note: {path.name}: ignored column(s) {_quoted(ignored)}", file=sys.stderr)
        raw = torch.tensor(
            np.stack([columns[name] for name in self.features], axis=1), dtype=torch.float32
        )
        return Examples([path.name] * len(raw), list(range(len(raw))), raw)

    def from_json(self, inputs: list[Any]) -> Examples:
        """Each input is ``{column: value}`` (as a CSV row; other keys ignored) or a list of
        the feature values in training order; null or "" is a missing value."""
        rows = [self._values(item, f"inputs[{index}]") for index, item in enumerate(inputs)]
        raw = torch.tensor(rows, dtype=torch.float32).reshape(-1, len(self.features))
        return Examples(["request"] * len(raw), list(range(len(raw))), raw)

    def _values(self, item: Any, what: str) -> list[float]:
        if isinstance(item, dict):
            missing = [name for name in self.features if name not in item]
            if missing:
                raise DataError(f"{what} has no {_quoted(missing)}, which this model reads")
            cells = [(name, item[name]) for name in self.features]
        elif isinstance(item, list) and len(item) == len(self.features):
            cells = list(zip(self.features, item, strict=True))
        else:
            raise DataError(
                f"{what} must be an object of column: value, or a list of the "
                f"{len(self.features)} values of {_quoted(self.features)}"
            )
        values = []
        for name, value in cells:
            number = parse_cell(value)
            if number is None:
                raise DataError(f"{what}: {name!r} is not a number")
            values.append(number)
        return values

    def encode(self) -> nn.Module:
        return nn.Sequential(FillMissing(self.mean), Affine.standardise(self.mean, self.std))

    def decode(self) -> nn.Module:
        if self.kind == "classification":
            return super().decode()
        return Affine(self.target_std, self.target_mean)
