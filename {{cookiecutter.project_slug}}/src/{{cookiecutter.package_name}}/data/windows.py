"""The sequence pipeline shared by every time-series DataModule.

Series are split (by series, or by time within each), cleaned (gaps interpolated, optional
low-pass), normalised per channel with statistics of the training split only, and cut
into windows of ``length`` steps every ``length - overlap`` steps. Windows never cross a
split boundary, so no step of the validation or test data is seen in training.
"""

from abc import abstractmethod
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch
from torch.utils.data import Dataset

from ..utils.errors import ConfigError, DataError
from .base import DataModule
from .signal import interpolate_gaps, lowpass, window_starts, window_stride
from .tables import encode_labels, label_names

SPLITS = ("train", "val", "test")


@dataclass
class Series:
    """One recording: ``values`` (T, F) with NaN where missing, optional label per step."""

    name: str
    values: np.ndarray
    labels: np.ndarray | None = None

    def segment(self, start: int, stop: int, part: str) -> "Series":
        labels = None if self.labels is None else self.labels[start:stop]
        return Series(f"{self.name}[{part}]", self.values[start:stop], labels)


class WindowDataset(Dataset):
    """Windows ``(length, F)`` over series; the target is the next step or the window's
    most frequent label. Windows are views into the series, so memory stays at one copy."""

    def __init__(
        self,
        series: list[torch.Tensor],
        labels: list[torch.Tensor] | None,
        length: int,
        stride: int,
    ) -> None:
        self.series = series
        self.length = length
        span = length if labels is not None else length + 1
        index = [
            torch.stack([torch.full_like(starts, i), starts], dim=1)
            for i, values in enumerate(series)
            for starts in [window_starts(len(values), span, stride)]
        ]
        self.index = torch.cat(index) if index else torch.zeros(0, 2, dtype=torch.long)
        self.window_labels = None
        if labels is not None:
            self.window_labels = torch.tensor(
                [int(labels[i][s : s + length].mode().values) for i, s in self.index.tolist()],
                dtype=torch.long,
            )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        series, start = self.index[item].tolist()
        values = self.series[series]
        window = values[start : start + self.length]
        if self.window_labels is None:
            return window, values[start + self.length]
        return window, self.window_labels[item]


class SeriesDataModule(DataModule):
    """Windows of multichannel series; subclasses only say where the series come from.

    ``split``: ``file`` gives each split whole series, ``time`` cuts every series into
    consecutive train/val/test stretches, ``auto`` splits by file when there are at least
    three series. ``cutoff`` (Hz) switches on a zero-phase Butterworth low-pass of
    ``order`` at ``sampling_rate`` (Hz).
    """

    def __init__(
        self,
        length: int = 32,
        overlap: int = 16,
        split: str = "auto",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        cutoff: float | None = None,
        order: int = 4,
        sampling_rate: float | None = None,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        self.length = length
        self.stride = window_stride(length, overlap)
        if split not in ("auto", "file", "time"):
            raise ConfigError(f"data.split must be auto, file or time, got {split!r}")
        if min(val_fraction, test_fraction) <= 0 or val_fraction + test_fraction >= 1:
            raise ConfigError(
                "data.val_fraction and data.test_fraction must be positive and sum below 1"
            )
        if cutoff is not None and sampling_rate is None:
            raise ConfigError("data.cutoff needs data.sampling_rate (Hz) to place the low-pass")
        self.split = split
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.cutoff = cutoff
        self.order = order
        self.sampling_rate = sampling_rate
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @abstractmethod
    def load_series(self) -> list[Series]:
        """Every series of the dataset, raw: NaN gaps are fine."""

    @cached_property
    def series(self) -> list[Series]:
        series = self.load_series()
        if not series:
            raise DataError(f"{type(self).__name__} found no series")
        widths = {s.values.shape[1] for s in series}
        if len(widths) > 1:
            raise DataError(f"every series needs the same number of channels, got {widths}")
        return series

    @property
    def is_labelled(self) -> bool:
        """Classification windows carry labels; regression windows forecast the next step."""
        return self.task == "classification"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.length, self.series[0].values.shape[1])

    @property
    def num_outputs(self) -> int:
        return len(self.class_names) if self.is_labelled else self.input_shape[1]

    @cached_property
    def class_names(self) -> list[str] | None:
        if not self.is_labelled:
            return None
        return label_names(np.concatenate([s.labels for s in self.series]))

    def split_series(self) -> tuple[list[Series], list[Series], list[Series]]:
        series = self.series
        by_file = self.split == "file" or (self.split == "auto" and len(series) >= 3)
        if by_file:
            order = np.random.default_rng(self.split_seed).permutation(len(series))
            n_test = max(1, round(len(series) * self.test_fraction))
            n_val = max(1, round(len(series) * self.val_fraction))
            if len(series) - n_val - n_test < 1:
                raise DataError(
                    f"{len(series)} series cannot be split by file into train/val/test; "
                    "add files or use data.split=time"
                )
            test, val, train = np.split(order, [n_test, n_test + n_val])
            return tuple([series[i] for i in sorted(part)] for part in (train, val, test))
        parts: tuple[list[Series], ...] = ([], [], [])
        for s in series:
            steps = len(s.values)
            bounds = [
                0,
                round(steps * (1 - self.val_fraction - self.test_fraction)),
                round(steps * (1 - self.test_fraction)),
                steps,
            ]
            for part, name, start, stop in zip(parts, SPLITS, bounds[:-1], bounds[1:], strict=True):
                part.append(s.segment(start, stop, name))
        return parts

    def clean(self, series: Series) -> Series:
        values = interpolate_gaps(series.values, series.name)
        if self.cutoff is not None:
            values = lowpass(values, self.cutoff, self.order, self.sampling_rate)
        return replace(series, values=values)

    def preprocess(self, raw: torch.Tensor) -> torch.Tensor:
        """Clean values ``(..., T, F)`` normalised with the training split's statistics."""
        if self.mean is None:
            self.splits  # noqa: B018 - the statistics come from the training split
        return (raw - torch.from_numpy(self.mean)) / torch.from_numpy(self.std)

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        parts = [[self.clean(s) for s in part] for part in self.split_series()]
        train_values = np.concatenate([s.values for s in parts[0]])
        self.mean = train_values.mean(axis=0)
        std = train_values.std(axis=0)
        self.std = np.where(std > 0, std, 1.0).astype(np.float32)
        datasets = []
        for name, part in zip(SPLITS, parts, strict=True):
            values = [self.preprocess(torch.from_numpy(s.values)).float() for s in part]
            labels = None
            if self.is_labelled:
                labels = [torch.from_numpy(encode_labels(s.labels, self.class_names)) for s in part]
            dataset = WindowDataset(values, labels, self.length, self.stride)
            if not len(dataset):
                raise DataError(
                    f"the {name} split has no window of {self.length} steps; "
                    "use a smaller data.length or longer series"
                )
            datasets.append(dataset)
        return tuple(datasets)
