"""Signal processing for multichannel series ``(T, F)``: angles, gaps, low-pass, windows."""

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from ..utils.errors import ConfigError, DataError


def interpolate_gaps(values: np.ndarray, name: str = "series") -> np.ndarray:
    """Fill missing values (NaN) per channel by linear interpolation in time.

    Gaps at either end take the nearest observed value.
    """
    filled = values.astype(np.float32, copy=True)
    steps = np.arange(len(filled))
    for channel in range(filled.shape[1]):
        column = filled[:, channel]
        missing = np.isnan(column)
        if missing.all():
            raise DataError(f"channel {channel} of {name} has no values at all; drop it")
        if missing.any():
            column[missing] = np.interp(steps[missing], steps[~missing], column[~missing])
    return filled


def unwrap_angles(column: np.ndarray, period: float) -> np.ndarray:
    """Angles that wrap (at +-180 degrees) made continuous, as ``np.unwrap`` does: a step of
    more than half a period is taken as a wrap. Missing values stay missing; the observed
    ones are unwrapped across the gap, so interpolation afterwards never crosses a wrap."""
    unwrapped = column.astype(np.float64, copy=True)
    seen = ~np.isnan(unwrapped)
    unwrapped[seen] = np.unwrap(unwrapped[seen], period=period)
    return unwrapped


def lowpass(
    values: np.ndarray, cutoff: float, order: int, sampling_rate: float, name: str = "series"
) -> np.ndarray:
    """Zero-phase Butterworth low-pass: filtered forwards and backwards, so no delay."""
    if not 0 < cutoff < sampling_rate / 2:
        raise ConfigError(
            f"lowpass cutoff {cutoff} Hz must lie between 0 and half the sampling rate "
            f"({sampling_rate / 2} Hz); set data.cutoff or data.sampling_rate"
        )
    sos = butter(order, cutoff, btype="lowpass", fs=sampling_rate, output="sos")
    try:
        return sosfiltfilt(sos, values, axis=0).astype(np.float32)
    except ValueError:  # scipy needs a few times the filter's order in steps
        raise DataError(
            f"{name} has {len(values)} steps, too few for a low-pass of order {order}; "
            "use a lower data.order or longer recordings"
        ) from None


def window_stride(length: int, overlap: int) -> int:
    if length < 1 or not 0 <= overlap < length:
        raise ConfigError(
            f"windows need length >= 1 and 0 <= overlap < length, got length={length}, "
            f"overlap={overlap}; the stride is length - overlap"
        )
    return length - overlap


def window_starts(steps: int, span: int, stride: int) -> torch.Tensor:
    """First step of every window of ``span`` steps that fits in ``steps`` steps:
    ``(steps - span) // stride + 1`` of them, none when the series is shorter."""
    return torch.arange(0, max(steps - span + 1, 0), stride)
