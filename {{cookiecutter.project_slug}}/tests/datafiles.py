"""Tiny data files in each format the project reads, written by the tests themselves."""

import gzip
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def sines(steps: int, channels: int, seed: int, gaps: bool = True) -> np.ndarray:
    """Noisy sines ``(steps, channels)`` with a few NaN gaps."""
    rng = np.random.default_rng(seed)
    time = np.arange(steps)[:, None]
    values = np.sin(2 * np.pi * time / rng.uniform(10, 40, channels) + rng.uniform(0, 6, channels))
    values += rng.normal(0, 0.05, values.shape)
    if gaps:
        values[5:9, 0] = np.nan
        values[steps // 2, -1] = np.nan
    return values


def write_csv_series(path: Path, values: np.ndarray, labels: list[str] | None = None) -> Path:
    header = [f"ch{i}" for i in range(values.shape[1])] + (["activity"] if labels else [])
    rows = [",".join(header)]
    for step, row in enumerate(values):
        cells = ["" if np.isnan(v) else f"{v:.6f}" for v in row]
        rows.append(",".join(cells + ([labels[step]] if labels else [])))
    path.write_text("\n".join(rows) + "\n")
    return path


def write_bvh(path: Path, values: np.ndarray, frame_time: float = 1 / 30) -> Path:
    """A two-joint skeleton: Hips (6 channels) and Spine (3); ``values`` has 9 columns."""
    hierarchy = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0.0 10.0 0.0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0.0 5.0 0.0
    }
  }
}
"""
    frames = "\n".join(" ".join(f"{v:.5f}" for v in row) for row in values)
    motion = f"MOTION\nFrames: {len(values)}\nFrame Time: {frame_time:.6f}\n{frames}\n"
    path.write_text(hierarchy + motion)
    return path


def write_series_folder(folder: Path, fmt: str, files: int = 4, steps: int = 120) -> Path:
    """``files`` recordings with NaN gaps as .csv (3 channels), .npy (3) or .bvh (9)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        values = sines(steps, 9 if fmt == "bvh" else 3, seed=index)
        path = folder / f"take{index}.{fmt}"
        if fmt == "csv":
            write_csv_series(path, values)
        elif fmt == "npy":
            np.save(path, values)
        else:
            write_bvh(path, values)
    return folder


def write_idx(path: Path, array: np.ndarray) -> None:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def write_mnist(data_dir: Path, train: int = 40, test: int = 20) -> Path:
    """MNIST's four IDX files, gzipped, under ``data_dir/MNIST/raw``."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    return data_dir


def write_cifar10(data_dir: Path, per_batch: int = 8, test: int = 16) -> Path:
    """CIFAR-10's binary batches (label byte + 3072 pixel bytes per record) under
    ``data_dir/cifar-10-batches-bin``."""
    folder = data_dir / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    (folder / "batches.meta.txt").write_text(
        "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
    )
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        count = test if name == "test_batch.bin" else per_batch
        labels = (np.arange(count) % 10).astype(np.uint8)[:, None]
        pixels = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        (folder / name).write_bytes(np.hstack([labels, pixels]).tobytes())
    return data_dir


def write_cifar10_archive(folder: Path) -> Path:
    """``folder/cifar-10-binary.tar.gz`` as CIFAR-10's site serves it, from small batches."""
    source = write_cifar10(folder / "source")
    archive = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    return archive


def write_image_folder(root: Path, classes=("cat", "dog", "fish"), per_class: int = 8) -> Path:
    """``root/<class>/<n>.png`` images of varied sizes and modes."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            size = (12 + index, 10 + label)
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).convert("L" if index % 2 else "RGB")
            image.save(root / name / f"{index}.png")
    (root / "notes.txt").write_text("not an image class")
    return root


def write_table(path: Path, rows: int = 60, target: str = "class", name: str = "target") -> Path:
    """Three numeric features (one with gaps) and a target: text classes or real values."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, 3))
    lines = [f"width,height,depth,{name}"]
    for index, row in enumerate(features):
        value = ["small", "large"][int(row[0] > 0)] if target == "class" else f"{row.sum():.4f}"
        cells = [
            "" if index % 7 == 0 and column == 2 else f"{v:.4f}" for column, v in enumerate(row)
        ]
        lines.append(",".join([*cells, value]))
    path.write_text("\n".join(lines) + "\n")
    return path
