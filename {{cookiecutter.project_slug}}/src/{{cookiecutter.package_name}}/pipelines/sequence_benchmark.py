"""What the sequence data path costs on a long recording.

``data=sequence`` reads one .npy file of ``frames x channels`` float32 numbers with gaps,
cleans it (gaps interpolated, zero-phase low-pass), standardises it with the training
split's statistics and cuts windows; the yardstick is the least any such pipeline does,
``np.load`` plus one ``scipy.signal.filtfilt`` over the array. Each measurement runs in a
fresh process, so its peak memory is its own. From the project's root:

    python benchmark.py benchmark.sequence=true [benchmark.frames=1000000 benchmark.channels=64]
"""

import cProfile
import multiprocessing
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from ..utils.console import console

RATE = 100.0  # Hz
CUTOFF = 10.0  # Hz
ORDER = 4
# data=sequence as measured: the low-pass on, windows of 32 frames every 16.
OPTIONS = {"cutoff": CUTOFF, "order": ORDER, "sampling_rate": RATE, "length": 32, "overlap": 16}
# Every other channel misses GAP frames every GAP_EVERY frames.
GAP, GAP_EVERY = 20, 1000
ROWS_PER_WRITE = 65536
# Both targets, as multiples of the baseline's time and of the array's size.
TIME_TARGET = MEMORY_TARGET = 3.0


def write_recording(path: Path, frames: int, channels: int, seed: int = 0) -> None:
    """Noisy sines of different periods, float32, with NaN gaps, written a block of rows at
    a time so that writing it never holds the whole array."""
    rng = np.random.default_rng(seed)
    periods = rng.uniform(20, 400, channels)
    phases = rng.uniform(0, 2 * np.pi, channels)
    array = np.lib.format.open_memmap(path, "w+", np.float32, (frames, channels))
    for start in range(0, frames, ROWS_PER_WRITE):
        steps = np.arange(start, min(start + ROWS_PER_WRITE, frames))[:, None]
        block = np.sin(2 * np.pi * steps / periods + phases)
        block += 0.1 * rng.standard_normal(block.shape)
        block[steps[:, 0] % GAP_EVERY < GAP, ::2] = np.nan
        array[start : start + len(block)] = block
    array.flush()
    del array


def peak_memory_start() -> int:
    """Resets this process's peak resident memory (Linux) and returns the level it starts
    from, in bytes; elsewhere the rusage peak so far."""
    status = Path("/proc/self/status")
    if status.exists():
        Path("/proc/self/clear_refs").write_text("5")
        return _status_bytes(status, "VmRSS")
    return _rusage_peak()


def peak_memory_since(start: int) -> int:
    """Bytes of resident memory at the peak since ``peak_memory_start`` above its level."""
    status = Path("/proc/self/status")
    peak = _status_bytes(status, "VmHWM") if status.exists() else _rusage_peak()
    return max(peak - start, 0)


def _status_bytes(status: Path, field: str) -> int:
    line = next(line for line in status.read_text().splitlines() if line.startswith(field))
    return int(line.split()[1]) * 1024


def _rusage_peak() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def baseline(path: Path) -> dict[str, Any]:
    """``np.load`` and one ``filtfilt`` (Butterworth of the same order and cutoff) along time."""
    from scipy.signal import butter, filtfilt

    b, a = butter(ORDER, CUTOFF, fs=RATE)
    start = peak_memory_start()
    began = time.perf_counter()
    array = np.load(path)
    loaded = time.perf_counter()
    filtfilt(b, a, array, axis=0)
    done = time.perf_counter()
    return {
        "seconds": done - began,
        "load_s": loaded - began,
        "filtfilt_s": done - loaded,
        "peak_bytes": peak_memory_since(start),
    }


def pipeline(path: Path) -> dict[str, Any]:
    """``data=sequence`` on the file, up to its train/val/test window datasets."""
    from ..data.sequence import SequenceDataModule

    start = peak_memory_start()
    began = time.perf_counter()
    data = SequenceDataModule(path=str(path), **OPTIONS)
    data.setup("fit")
    done = time.perf_counter()
    return {
        "seconds": done - began,
        "peak_bytes": peak_memory_since(start),
        "windows": sum(len(split) for split in data.splits),  # type: ignore[arg-type]
    }


def stages(path: Path) -> dict[str, float]:
    """Seconds in each step of the same ``data=sequence`` run, under cProfile: the time of
    the functions that do each step, so nothing is measured outside the real path."""
    from ..data.recordings import Recording, read_recording
    from ..data.sequence import SequenceDataModule
    from ..data.series_preprocessing import SeriesPreprocessing
    from ..data.signal import interpolate_gaps, lowpass, mean_std
    from ..data.windows import SeriesDataModule, WindowDataset

    profile = cProfile.Profile()
    data = SequenceDataModule(path=str(path), **OPTIONS)
    profile.runcall(data.setup, "fit")
    totals = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def seconds(function: Callable) -> float:
        code = function.__code__
        entry = totals.get((code.co_filename, code.co_firstlineno, code.co_name))
        return 0.0 if entry is None else entry[3]  # cumulative time

    clean = seconds(SeriesPreprocessing.clean)
    filled, filtered = seconds(interpolate_gaps), seconds(lowpass)
    build = seconds(SeriesDataModule.build_splits)
    statistics, windows = seconds(mean_std), seconds(WindowDataset.__init__)
    return {
        "read": seconds(read_recording) + seconds(Recording.stack),
        "copy": clean - filled - filtered,
        "interpolate": filled,
        "low-pass": filtered,
        "statistics": statistics,
        "split + standardise": build - clean - statistics - windows,
        "windows": windows,
    }


def in_fresh_process(work: Callable[[Path], dict[str, Any]], path: Path) -> dict[str, Any]:
    """``work(path)`` in a new Python process (spawned, not forked: its memory starts clean)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(work, path).result()


def best_of(work: Callable[[Path], dict[str, Any]], path: Path, repeats: int) -> dict[str, Any]:
    """Each figure's smallest over ``repeats`` fresh processes (on a busy machine the
    quietest run is the closest to the cost itself)."""
    runs = [in_fresh_process(work, path) for _ in range(repeats)]
    return {key: min(run[key] for run in runs) for key in runs[0]}


def sequence_benchmark(frames: int = 1_000_000, channels: int = 64, repeats: int = 1) -> dict:
    """Times and peak memory of ``data=sequence`` on a ``frames x channels`` recording
    against ``np.load`` + ``filtfilt``; prints them and returns them."""
    array_bytes = frames * channels * np.dtype(np.float32).itemsize
    with tempfile.TemporaryDirectory(prefix="sequence-benchmark-") as folder:
        path = Path(folder) / "recording.npy"
        write_recording(path, frames, channels)
        reference = best_of(baseline, path, repeats)
        measured = best_of(pipeline, path, repeats)
        steps = best_of(stages, path, repeats)
    report = {
        "frames": frames,
        "channels": channels,
        "array_mb": array_bytes / 2**20,
        "repeats": repeats,
        "baseline": reference,
        "pipeline": measured,
        "stages": steps,
        "time_ratio": measured["seconds"] / reference["seconds"],
        "memory_ratio": measured["peak_bytes"] / array_bytes,
        "baseline_memory_ratio": reference["peak_bytes"] / array_bytes,
        "targets": {"time_ratio": TIME_TARGET, "memory_ratio": MEMORY_TARGET},
    }
    print_report(report)
    return report


def print_report(report: dict) -> None:
    mb = 2**20
    table = Table(
        title=f"data=sequence on {report['frames']:,} frames x {report['channels']} channels "
        f"(float32, {report['array_mb']:.0f} MB; best of {report['repeats']})"
    )
    for column in ("", "seconds", "peak memory (MB)", "memory / array"):
        table.add_column(column, justify="left" if not column else "right")
    reference, measured = report["baseline"], report["pipeline"]
    array_bytes = report["array_mb"] * mb
    for name, figures in (("np.load + filtfilt", reference), ("data=sequence", measured)):
        peak = figures["peak_bytes"]
        table.add_row(
            name, f"{figures['seconds']:.2f}", f"{peak / mb:.0f}", f"{peak / array_bytes:.2f}"
        )
    for stage, seconds in report["stages"].items():
        table.add_row(f"  {stage}", f"{seconds:.2f}", "", "")
    console.print(table)
    targets = report["targets"]
    console.print(
        f"time ratio {report['time_ratio']:.2f} (target <= {targets['time_ratio']:g}), "
        f"peak memory {report['memory_ratio']:.2f}x the array "
        f"(target <= {targets['memory_ratio']:g}); stages timed under cProfile"
    )
