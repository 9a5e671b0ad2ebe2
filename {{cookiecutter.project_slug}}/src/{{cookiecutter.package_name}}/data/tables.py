"""Columns from CSV files and class labels from any column.

The standard library's csv module is enough here: pandas would be a heavy dependency for
reading a header and some numbers, and numpy's genfromtxt renames header fields.
"""

import csv
import io
from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .files import read_text

MISSING = {"", "nan", "NaN", "NA", "N/A", "null", "None"}


def _as_numbers(cells: list[str]) -> np.ndarray | None:
    try:
        return np.array(
            [np.nan if cell.strip() in MISSING else float(cell) for cell in cells],
            dtype=np.float64,
        )
    except ValueError:
        return None


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
