"""The sequence pipeline's fitted description, from a recording's columns to model windows.

Which columns a recording gives, how they are cleaned (rotation angles unwrapped, gaps
interpolated, the root joint kept, removed or turned into velocities, an optional
low-pass), which channels the model sees, their mean and deviation on the training split,
and the windows. Training and ``predict.py`` clean a file with this same code, so a window
of a file holds the same numbers in the experiment and in a prediction.
"""

import sys
from dataclasses import dataclass, field
from math import isclose
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils.errors import ConfigError, DataError
from ..utils.ranks import is_rank_zero
from .preprocessing import Affine, Examples, Preprocessing, as_tensor
from .recordings import SUFFIXES, read_recording
from .signal import interpolate_gaps, lowpass, unwrap_angles
from .table_preprocessing import check_columns

# BVH files, and the mocap tools that export CSV, give Euler angles in degrees.
ROTATION_PERIOD = 360.0
ROOT_OPTIONS = ("keep", "remove", "velocity")


def warn(message: str) -> None:
    """One line on stderr, from the first process only (every DDP process reads the data)."""
    if is_rank_zero():
        print(f"warning: {message}", file=sys.stderr)


def is_rotation(name: str) -> bool:
    """BVH rotation channels (``Hips_Zrotation``) and CSV columns named like them."""
    return name.lower().endswith("rotation")


def cleaned_names(columns: list[str], root_columns: list[str], root: str) -> list[str]:
    """The channels cleaning gives: the root joint's columns kept, removed, or replaced
    by their change per frame (``<column>_velocity``)."""
    if root == "remove":
        return [name for name in columns if name not in root_columns]
    if root == "velocity":
        return [f"{name}_velocity" if name in root_columns else name for name in columns]
    return list(columns)


@dataclass
class SeriesPreprocessing(Preprocessing):
    """Recording columns -> cleaned channels -> windows ``(length, channels)`` every
    ``stride`` frames; the model sees them standardised with the training split's
    ``mean`` and ``std``. Forecasts come back in each channel's own units."""

    suffixes = SUFFIXES
    index_name = "start_frame"

    kind: str
    columns: list[str]  # read from every recording, in this order
    channels: list[str]  # what the model sees (and forecasts), after cleaning
    length: int
    stride: int
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    unwrap: list[str] = field(default_factory=list)  # rotation columns made continuous
    root_columns: list[str] = field(default_factory=list)  # a BVH ROOT joint's columns
    root: str = "keep"
    cutoff: float | None = None  # Hz, zero-phase Butterworth low-pass of ``order``
    order: int = 4
    sampling_rate: float | None = None  # Hz
    horizon: int = 1  # forecasts the step this many steps after a window's last
    class_names: list[str] | None = None

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return (self.length, len(self.channels))

    @property
    def output_names(self) -> list[str]:
        if self.kind == "classification":
            assert self.class_names is not None
            return self.class_names
        return self.channels

    @property
    def seconds_per_step(self) -> float | None:
        return None if self.sampling_rate is None else 1 / self.sampling_rate

    def clean(self, values: np.ndarray, name: str) -> np.ndarray:
        """A recording's columns ``(T, columns)`` -> the model's channels ``(T, channels)``,
        float32 in their own units (not yet standardised). ``values`` is left as it was:
        the channels are picked into one copy, which every step then cleans in place (a
        long recording is not copied again; each channel is cleaned on its own, so picking
        them first changes no number)."""
        if self.cutoff is not None and self.sampling_rate is None:
            raise ConfigError(
                "data.cutoff needs the sampling rate: set data.sampling_rate (Hz); "
                "BVH files give it in their header"
            )
        removed = self.root_columns if self.root == "remove" else []
        kept = [column for column in self.columns if column not in removed]
        names = cleaned_names(self.columns, self.root_columns, self.root)
        origin = dict(zip(names, kept, strict=True))
        columns = [origin[channel] for channel in self.channels]
        index = [self.columns.index(column) for column in columns]
        if index == list(range(values.shape[1])):
            cleaned = values.astype(np.float32)
        else:
            cleaned = values[:, index].astype(np.float32, copy=False)
        for position, column in enumerate(columns):
            if column in self.unwrap:
                cleaned[:, position] = unwrap_angles(cleaned[:, position], ROTATION_PERIOD)
        interpolate_gaps(cleaned, name, copy=False, names=columns)
        if self.root == "velocity":
            for position, column in enumerate(columns):
                if column in self.root_columns:
                    change = np.diff(cleaned[:, position], prepend=cleaned[0, position])
                    cleaned[:, position] = change
        if self.cutoff is not None:
            assert self.sampling_rate is not None
            lowpass(cleaned, self.cutoff, self.order, self.sampling_rate, name, copy=False)
        return cleaned

    def columns_of(self, path: Path, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The recording's values ``(T, columns)``, in this preprocessing's column order."""
        check_columns(
            path,
            columns,
            self.columns,
            numeric=self.columns,
            hint="the model reads the columns it was trained on",
        )
        return np.stack([columns[name] for name in self.columns], axis=1)

    def check_rate(self, path: Path, recorded: float | None) -> None:
        expected = self.sampling_rate
        if recorded and expected and not isclose(recorded, expected, rel_tol=1e-3):
            warn(
                f"{path.name} is recorded at {recorded:g} Hz (its Frame Time) but the model "
                f"was trained on {self.sampling_rate:g} Hz; resample it to match"
            )

    def read(self, path: Path) -> Examples:
        """Every window of a recording, one every ``stride`` frames from its first frame,
        keyed by its start frame: the windows training cut from the same file are among them."""
        recording = read_recording(path)
        self.check_rate(path, recording.sampling_rate)
        cleaned = torch.from_numpy(self.clean(self.columns_of(path, recording.columns), path.name))
        if len(cleaned) < self.length:
            raise DataError(
                f"{path} has {len(cleaned)} frames; the model reads windows of {self.length}"
            )
        windows = cleaned.unfold(0, self.length, self.stride).transpose(1, 2).contiguous()
        starts = list(range(0, len(windows) * self.stride, self.stride))
        return Examples([path.name] * len(windows), starts, windows)

    def from_json(self, inputs: list[Any]) -> Examples:
        """Each input one window, ``length`` rows of the cleaned ``channels``, as ``read``
        cuts them from a file."""
        raw = as_tensor(inputs, self.raw_shape, "inputs")
        return Examples(["request"] * len(raw), list(range(len(raw))), raw)

    def encode(self) -> nn.Module:
        return Affine.standardise(self.mean, self.std)

    def decode(self) -> nn.Module:
        if self.kind == "classification":
            return super().decode()
        # The forecast step, back in each channel's own units.
        return Affine(self.std, self.mean)

    def steps(self) -> list[str]:
        steps = [f"read the columns {', '.join(self.columns)} of each recording, in this order"]
        if self.unwrap:
            steps.append(f"unwrap {', '.join(self.unwrap)} (degrees, np.unwrap with period 360)")
        steps.append("fill missing values by linear interpolation in time, per column")
        if self.root == "velocity":
            steps.append(f"replace {', '.join(self.root_columns)} by their change per frame")
        if self.cutoff is not None:
            steps.append(
                f"zero-phase Butterworth low-pass of order {self.order} at {self.cutoff:g} Hz "
                f"(sampling rate {self.sampling_rate:g} Hz), as scipy's sosfiltfilt"
            )
        steps.append(
            f"keep the channels {', '.join(self.channels)}; cut windows of {self.length} "
            f"frames every {self.stride} frames: float32 (N, {self.length}, {len(self.channels)})"
        )
        return steps

    def baseline(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Persistence: the forecast step taken to be the window's last (in model space)."""
        return inputs[:, -1, :] if self.kind == "regression" else None
