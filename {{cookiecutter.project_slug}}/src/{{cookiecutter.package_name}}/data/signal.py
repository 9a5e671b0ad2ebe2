"""Signal processing for multichannel series ``(T, F)``: angles, gaps, low-pass, windows."""

from collections.abc import Sequence

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from ..utils.errors import ConfigError, DataError

# ``lowpass`` filters this fraction of the channels at a time (its float64 working copies
# stay under half the recording's size); ``mean_std`` reads this many rows at a time.
CHANNEL_BLOCKS = 16
ROWS_PER_BLOCK = 16384


def interpolate_gaps(
    values: np.ndarray,
    name: str = "series",
    copy: bool = True,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Fill missing values (NaN) per channel by linear interpolation in time, as float32.

    Gaps at either end take the nearest observed value. ``copy=False`` fills a float32
    array in place (a long recording is not copied again); ``names`` name the channels
    in errors (by default their index).
    """
    filled = values.astype(np.float32, copy=copy)
    gappy = np.flatnonzero(np.isnan(filled).any(axis=0))
    steps = np.arange(len(filled))
    for channel in gappy:
        column = filled[:, channel]
        missing = np.isnan(column)
        if missing.all():
            label = channel if names is None else names[channel]
            raise DataError(f"channel {label} of {name} has no values at all; drop it")
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
    values: np.ndarray,
    cutoff: float,
    order: int,
    sampling_rate: float,
    name: str = "series",
    copy: bool = True,
) -> np.ndarray:
    """Zero-phase Butterworth low-pass: filtered forwards and backwards, so no delay; float32.

    ``copy=False`` filters a float32 array in place. Channels are filtered a few at a time:
    scipy works on float64 copies of what it filters, and on a whole long recording those
    would take several times its memory (each channel's numbers are the same either way).
    """
    if not 0 < cutoff < sampling_rate / 2:
        raise ConfigError(
            f"lowpass cutoff {cutoff} Hz must lie between 0 and half the sampling rate "
            f"({sampling_rate / 2} Hz); set data.cutoff or data.sampling_rate"
        )
    sos = butter(order, cutoff, btype="lowpass", fs=sampling_rate, output="sos")
    filtered = values.astype(np.float32, copy=copy)
    block = max(1, filtered.shape[1] // CHANNEL_BLOCKS)
    try:
        for start in range(0, filtered.shape[1], block):
            channels = filtered[:, start : start + block]
            # Time contiguous, (channels, T): scipy's fastest layout.
            channels[:] = sosfiltfilt(sos, np.ascontiguousarray(channels.T), axis=-1).T
    except ValueError:  # scipy needs a few times the filter's order in steps
        raise DataError(
            f"{name} has {len(values)} steps, too few for a low-pass of order {order}; "
            "use a lower data.order or longer recordings"
        ) from None
    return filtered


def mean_std(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and deviation of ``(T, F)`` arrays taken together, in float64.

    Hand-written in two passes over blocks of rows because ``np.concatenate`` and ``np.std``
    would each make a full-size temporary copy (and float32 sums lose digits on long series).
    """
    count = sum(len(array) for array in arrays)
    mean = sum(array.sum(axis=0, dtype=np.float64) for array in arrays) / count
    squares = np.zeros_like(mean)
    for array in arrays:
        for start in range(0, len(array), ROWS_PER_BLOCK):
            deviation = array[start : start + ROWS_PER_BLOCK] - mean
            squares += np.einsum("ij,ij->j", deviation, deviation)
    return mean, np.sqrt(squares / count)


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
