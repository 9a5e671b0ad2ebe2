"""The sequence pipeline shared by every time-series DataModule.

Each recording is cleaned whole (``SeriesPreprocessing.clean``: angles unwrapped, gaps
interpolated, root position, optional low-pass), exactly as ``predict.py`` cleans a file,
then split (by recording, or by time within each), normalised per channel with statistics
of the training split only, and cut into windows of ``length`` steps every
``length - overlap`` steps. Windows never cross a split boundary, and the boundaries lie on
the window grid, so every test window is one ``predict.py`` cuts from the same file.
"""

from abc import abstractmethod
from dataclasses import dataclass, replace
from functools import cached_property
from math import isclose

import numpy as np
import torch
from torch.utils.data import Dataset

from ..utils.errors import ConfigError, DataError
from .base import DataModule
from .batches import BatchDataset, as_index
from .series_preprocessing import (
    ROOT_OPTIONS,
    SeriesPreprocessing,
    cleaned_names,
    is_rotation,
    warn,
)
from .signal import mean_std, window_starts, window_stride
from .table_preprocessing import encode_labels, label_names

CONSTANT_CHANNELS = ("warn", "drop")

SPLITS = ("train", "val", "test")


@dataclass
class Series:
    """One recording: ``values`` (T, columns) with NaN where missing, optional label per
    step; ``source`` (its file name) and ``offset`` (its first frame there) key its windows."""

    name: str
    values: np.ndarray
    labels: np.ndarray | None = None
    source: str = ""
    offset: int = 0
    sampling_rate: float | None = None  # Hz, as the file itself says (a BVH header)

    def segment(self, start: int, stop: int, part: str) -> "Series":
        labels = None if self.labels is None else self.labels[start:stop]
        return replace(
            self,
            name=f"{self.name}[{part}]",
            values=self.values[start:stop],
            labels=labels,
            offset=self.offset + start,
        )


class WindowDataset(BatchDataset):
    """Windows ``(length, F)`` over series; the target is the step ``horizon`` steps after
    the window's last (1: the next step) or the window's most frequent label. Windows are
    views into the series, so memory stays at one copy."""

    def __init__(
        self,
        series: list[torch.Tensor],
        labels: list[torch.Tensor] | None,
        length: int,
        stride: int,
        horizon: int = 1,
    ) -> None:
        self.series = series
        self.length = length
        self.horizon = horizon
        span = length if labels is not None else length + horizon
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
            return window, values[start + self.length - 1 + self.horizon]
        return window, self.window_labels[item]

    def __getitems__(self, items: list[int]) -> list[torch.Tensor]:
        # A batch as slices and one stack, without the loader's call and collate per window.
        index = as_index(items)
        pairs = self.index.index_select(0, index).tolist()
        windows = torch.stack([self.series[i][start : start + self.length] for i, start in pairs])
        if self.window_labels is None:
            ahead = self.length - 1 + self.horizon
            return [windows, torch.stack([self.series[i][start + ahead] for i, start in pairs])]
        return [windows, self.window_labels.index_select(0, index)]


class SeriesDataModule(DataModule):
    """Windows of multichannel series; subclasses only say where the series come from.

    ``split``: ``file`` gives each split whole series, ``time`` cuts every series into
    consecutive train/val/test stretches, ``auto`` splits by file when there are at least
    three series. ``cutoff`` (Hz) switches on a zero-phase Butterworth low-pass of
    ``order`` at ``sampling_rate`` (Hz; by default the rate BVH headers give). ``unwrap``
    makes rotation channels continuous across +-180 degrees; ``root`` keeps,
    removes or differentiates a BVH root joint's channels; channels whose training-split
    deviation is below ``min_std`` are named in a warning (``constant_channels=warn``,
    and standardised with ``min_std`` so their noise is not magnified) or dropped.
    Forecasting predicts the step ``horizon`` steps after each window.
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
        unwrap: bool = True,
        root: str = "keep",
        constant_channels: str = "warn",
        min_std: float = 1e-3,
        horizon: int = 1,
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
        if root not in ROOT_OPTIONS:
            raise ConfigError(f"data.root must be {', '.join(ROOT_OPTIONS)}, got {root!r}")
        if constant_channels not in CONSTANT_CHANNELS:
            raise ConfigError(
                f"data.constant_channels must be warn or drop, got {constant_channels!r}"
            )
        if sampling_rate is not None and not sampling_rate > 0:
            raise ConfigError(f"data.sampling_rate={sampling_rate} must be a positive rate in Hz")
        if not (isinstance(horizon, int) and horizon >= 1):
            raise ConfigError(f"data.horizon={horizon} must be a whole number of steps >= 1")
        self.horizon = horizon
        self.split = split
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.cutoff = cutoff
        self.order = order
        self.sampling_rate = sampling_rate
        self.unwrap = unwrap
        self.root = root
        self.constant_channels = constant_channels
        self.min_std = min_std
        # Where the test windows come from (their values standardised in place).
        self.test_series: list[Series] = []

    @abstractmethod
    def load_series(self) -> list[Series]:
        """Every series of the dataset, raw: NaN gaps are fine."""

    @property
    @abstractmethod
    def column_names(self) -> list[str]:
        """The columns of every series, in order (known once the series are loaded)."""

    @property
    def root_columns(self) -> list[str]:
        """The root joint's columns, which ``root`` acts on."""
        return []

    @cached_property
    def series(self) -> list[Series]:
        series = self.load_series()
        if not series:
            raise DataError(f"{type(self).__name__} found no series")
        widths = {s.values.shape[1] for s in series}
        if len(widths) > 1:
            raise DataError(f"every series needs the same number of channels, got {widths}")
        return series

    @cached_property
    def rate(self) -> float | None:
        """Hz: ``sampling_rate`` when set (a file's differing header is warned about), else
        the rate the files' headers agree on, else unknown."""
        recorded = {s.source: s.sampling_rate for s in self.series if s.sampling_rate}
        if self.sampling_rate is not None:
            differ = {
                source: rate
                for source, rate in recorded.items()
                if not isclose(rate, self.sampling_rate, rel_tol=1e-3)
            }
            if differ:
                source, rate = next(iter(differ.items()))
                warn(
                    f"data.sampling_rate={self.sampling_rate:g} overrides the {rate:g} Hz that "
                    f"{source}'s Frame Time gives ({len(differ)} file(s) differ); leave "
                    "data.sampling_rate unset to use the header"
                )
            return float(self.sampling_rate)
        rates = sorted(set(recorded.values()))
        if rates and not isclose(rates[0], rates[-1], rel_tol=1e-3):
            raise DataError(
                f"the recordings have different frame rates ({rates[0]:g} to {rates[-1]:g} Hz); "
                "resample them to one rate"
            )
        return rates[0] if rates else None

    @property
    def is_labelled(self) -> bool:
        """Classification windows carry labels; regression windows forecast the next step."""
        return self.kind == "classification"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.fitted_preprocessing.raw_shape

    @property
    def num_outputs(self) -> int:
        return len(self.fitted_preprocessing.output_names)

    @cached_property
    def class_names(self) -> list[str] | None:
        if not self.is_labelled:
            return None
        return label_names(np.concatenate([s.labels for s in self.series]))

    def unfitted_preprocessing(self) -> SeriesPreprocessing:
        """The cleaning this data asks for, before any statistics are known."""
        columns = self.column_names
        root_columns = self.root_columns
        if self.root != "keep" and not root_columns:
            raise ConfigError(
                f"data.root={self.root} needs BVH recordings (it acts on the channels of "
                "their ROOT joint); use data.root=keep"
            )
        return SeriesPreprocessing(
            kind=self.kind,
            columns=columns,
            channels=cleaned_names(columns, root_columns, self.root),
            length=self.length,
            stride=self.stride,
            unwrap=[name for name in columns if self.unwrap and is_rotation(name)],
            root_columns=root_columns,
            root=self.root,
            cutoff=self.cutoff,
            order=self.order,
            sampling_rate=self.rate,
            horizon=self.horizon,
            class_names=self.class_names,
        )

    def split_series(self, series: list[Series]) -> tuple[list[Series], list[Series], list[Series]]:
        by_file = self.split == "file" or (self.split == "auto" and len(series) >= 3)
        if by_file:
            parts = self.split_indices(
                len(series),
                self.val_fraction,
                self.test_fraction,
                self.split_seed,
                "series",
                "; add files or use data.split=time",
            )
            return tuple([series[i] for i in sorted(part)] for part in parts)
        parts: tuple[list[Series], ...] = ([], [], [])
        for s in series:
            steps = len(s.values)
            # Cut on the window grid: a test window starts where predict.py starts one.
            cuts = [
                self.stride * round(steps * fraction / self.stride)
                for fraction in (1 - self.val_fraction - self.test_fraction, 1 - self.test_fraction)
            ]
            bounds = [0, *cuts, steps]
            for part, name, start, stop in zip(parts, SPLITS, bounds[:-1], bounds[1:], strict=True):
                part.append(s.segment(start, stop, name))
        return parts

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        preprocessing = self.unfitted_preprocessing()
        cleaned = [replace(s, values=preprocessing.clean(s.values, s.name)) for s in self.series]
        parts = self.split_series(cleaned)
        mean, std = mean_std([s.values for s in parts[0]])
        constant = std < self.min_std
        if constant.any():
            names = [preprocessing.channels[index] for index in np.flatnonzero(constant)]
            if self.constant_channels == "warn":
                warn(
                    f"{len(names)} channel(s) barely change in the training split (deviation "
                    f"below data.min_std={self.min_std:g}): {', '.join(names)}; "
                    "data.constant_channels=drop leaves them out"
                )
            elif constant.all():
                raise DataError("every channel is constant in the training split; nothing to learn")
            else:
                keep = np.flatnonzero(~constant)
                parts = tuple([replace(s, values=s.values[:, keep]) for s in p] for p in parts)
                mean, std = mean[keep], std[keep]
                kept = [preprocessing.channels[index] for index in keep]
                preprocessing = replace(preprocessing, channels=kept)
        self.preprocessing = replace(
            preprocessing,
            mean=mean.tolist(),
            std=np.where(std > 0, np.maximum(std, self.min_std), 1.0).tolist(),
        )
        self.test_series = parts[2]
        encode = self.preprocessing.encode()
        scale, shift = encode.get_buffer("scale"), encode.get_buffer("shift")
        datasets = []
        for name, part in zip(SPLITS, parts, strict=True):
            # Standardised in place, as encode computes it: the cleaned copy is this data's own,
            # and a long recording stays one copy (windows are views into it).
            values = [torch.from_numpy(s.values).mul_(scale).add_(shift) for s in part]
            labels = None
            if self.is_labelled:
                labels = [torch.from_numpy(encode_labels(s.labels, self.class_names)) for s in part]
            dataset = WindowDataset(values, labels, self.length, self.stride, self.horizon)
            if not len(dataset):
                raise DataError(
                    f"the {name} split has no window of {self.length} steps; "
                    "use a smaller data.length or longer series"
                )
            datasets.append(dataset)
        return tuple(datasets)

    def test_keys(self) -> tuple[list[str], list[int]]:
        """File name and start frame in that file of every test window, as ``read`` keys it."""
        test = self.splits[2]
        keys = [
            (self.test_series[series].source, self.test_series[series].offset + start)
            for series, start in test.index.tolist()
        ]
        return [source for source, _ in keys], [start for _, start in keys]
