"""One recording from a .csv, .npy or .bvh file: its columns by name, and what a BVH header
says about its timing and skeleton. Training and ``predict.py`` both read files here."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .bvh import read_bvh
from .files import read_npy
from .table_preprocessing import read_csv

SUFFIXES = (".csv", ".npy", ".bvh")


@dataclass
class Recording:
    """Columns by name (CSV header names, NPY column indices, BVH ``<joint>_<channel>``)."""

    columns: dict[str, np.ndarray]
    sampling_rate: float | None = None  # Hz, from a BVH header's Frame Time
    root: str | None = None  # a BVH file's ROOT joint
    # The (T, columns) array the columns are views of (NPY, BVH), in the columns' order.
    array: np.ndarray | None = None

    def stack(self, names: list[str]) -> np.ndarray:
        """The named columns side by side ``(T, len(names))``, float32. Every column of an
        NPY file in its own order is the file's float32 array itself, not a copy of it."""
        if self.array is None:
            return np.stack([self.columns[name] for name in names], axis=1).astype(np.float32)
        order = {name: index for index, name in enumerate(self.columns)}
        index = [order[name] for name in names]
        picked = self.array if index == list(range(self.array.shape[1])) else self.array[:, index]
        return picked.astype(np.float32, copy=False)


def read_recording(path: Path) -> Recording:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return Recording(read_csv(path))
    if suffix == ".npy":
        array = read_npy(path)
        if array.ndim not in (1, 2):
            raise DataError(f"{path} holds a {array.ndim}-D array; a series is (T, F) or (T,)")
        array = array.reshape(len(array), -1)
        return Recording({str(i): array[:, i] for i in range(array.shape[1])}, array=array)
    if suffix == ".bvh":
        motion = read_bvh(path)
        columns = dict(zip(motion.channels, motion.frames.T, strict=True))
        return Recording(columns, 1 / motion.frame_time, motion.root, motion.frames)
    raise DataError(
        f"{path}: cannot read {suffix or 'extension-less'} files; use {', '.join(SUFFIXES)}"
    )
