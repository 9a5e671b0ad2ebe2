"""Your own time series: a folder (or one file) of CSV, NPY or BVH recordings."""

from pathlib import Path

import numpy as np

from ..utils.errors import ConfigError, DataError
from .bvh import read_bvh
from .files import read_npy
from .tables import check_columns, read_csv
from .windows import Series, SeriesDataModule

SUFFIXES = (".csv", ".npy", ".bvh")


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """Every column of a recording by name; NPY columns are named by their index."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".npy":
        array = read_npy(path)
        if array.ndim not in (1, 2):
            raise DataError(f"{path} holds a {array.ndim}-D array; a series is (T, F) or (T,)")
        array = array.reshape(len(array), -1)
        return {str(i): array[:, i] for i in range(array.shape[1])}
    motion = read_bvh(path)
    return dict(zip(motion.channels, motion.frames.T, strict=True))


class SequenceDataModule(SeriesDataModule):
    """Multichannel series from files, one recording per file, through the sequence pipeline.

    ``channels`` picks the input columns (CSV header names, NPY column indices, BVH
    ``<joint>_<channel>`` names); by default every numeric column but the label. With a
    ``label_column`` each window is classified by its most frequent label; without one the
    task is forecasting the step after the window.
    """

    def __init__(
        self,
        path: str | None = None,
        channels: list[str | int] | None = None,
        label_column: str | int | None = None,
        **options,
    ) -> None:
        super().__init__(**options)
        if path is None:
            raise ConfigError(
                "data=sequence needs data.path=<a folder or file of .csv, .npy or .bvh series>"
            )
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"data.path={path} does not exist")
        self.channels = None if channels is None else [str(c) for c in channels]
        self.label_column = None if label_column is None else str(label_column)
        self.channel_names: list[str] = []

    @property
    def task(self) -> str:
        # Decided by the config alone: knowing the task reads no file.
        return "regression" if self.label_column is None else "classification"

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in SUFFIXES)
        if not files:
            raise DataError(f"{self.path} holds no {', '.join(SUFFIXES)} files")
        return files

    def load_series(self) -> list[Series]:
        series = []
        for path in self.files():
            columns = read_columns(path)
            names = self.channels or [name for name in columns if name != self.label_column]
            if series and names != self.channel_names:
                raise DataError(
                    f"{path} has channels {names}, but {series[0].name} has "
                    f"{self.channel_names}; choose common ones with data.channels=[...]"
                )
            self.channel_names = names
            series.append(self.to_series(path, columns, names))
        return series

    def to_series(self, path: Path, columns: dict[str, np.ndarray], names: list[str]) -> Series:
        wanted = [*names, *([self.label_column] if self.label_column else [])]
        check_columns(
            path,
            columns,
            wanted,
            numeric=names,
            hint="choose the inputs with data.channels=[...] or name it as data.label_column",
        )
        values = np.stack([columns[name] for name in names], axis=1).astype(np.float32)
        labels = columns[self.label_column] if self.label_column else None
        return Series(str(path), values, labels)
