"""Tiny data files in each format the project reads, written by the tests themselves."""

import gzip
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


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


# A small skeleton as motion capture gives it: a root with position and rotation, and joints.
MOCAP_JOINTS = ("Hips", "Spine", "Neck", "LeftArm", "RightArm")
ROTATIONS = ("Zrotation", "Xrotation", "Yrotation")


def mocap(frames: int, rate: float = 120.0, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """A walk in a wide circle at ``rate`` Hz: channel names and values (frames, 18).

    The root drifts across the room (cm) while its heading turns past +-180 degrees, an arm
    swings around 180 so that its angle wraps at every swing, the neck's X rotation is a
    constant (as a fixed joint records it), and every channel has a little sensor noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / rate
    gait = 2 * np.pi * 1.1 * t + rng.uniform(0, 2 * np.pi)

    def wrap(angles: np.ndarray) -> np.ndarray:
        return (angles + 180.0) % 360.0 - 180.0

    heading = 150.0 + 45.0 * t
    columns = {
        "Hips_Xposition": 80.0 * np.cos(np.radians(heading)) + 30.0 * t,
        "Hips_Yposition": 95.0 + 2.0 * np.sin(2 * gait),
        "Hips_Zposition": 80.0 * np.sin(np.radians(heading)) - 20.0 * t,
        "Hips_Zrotation": 4.0 * np.sin(gait),
        "Hips_Xrotation": 3.0 * np.sin(2 * gait + 0.5),
        "Hips_Yrotation": wrap(heading),
        "Spine_Zrotation": 6.0 * np.sin(gait + 0.3),
        "Spine_Xrotation": 5.0 + 2.0 * np.sin(2 * gait),
        "Spine_Yrotation": 8.0 * np.sin(gait + 1.0),
        "Neck_Zrotation": 3.0 * np.sin(gait + 0.7),
        "Neck_Xrotation": np.zeros_like(t),
        "Neck_Yrotation": 5.0 * np.sin(0.5 * gait),
        "LeftArm_Zrotation": 40.0 * np.sin(gait),
        "LeftArm_Xrotation": 10.0 + 5.0 * np.sin(2 * gait),
        "LeftArm_Yrotation": wrap(180.0 + 25.0 * np.sin(gait)),
        "RightArm_Zrotation": -40.0 * np.sin(gait),
        "RightArm_Xrotation": 10.0 + 5.0 * np.sin(2 * gait + 0.2),
        "RightArm_Yrotation": 20.0 * np.sin(gait + np.pi),
    }
    values = np.concatenate(list(columns.values()), axis=1)
    noise = np.array([0.0 if name == "Neck_Xrotation" else 0.05 for name in columns])
    values = values + rng.normal(0.0, 1.0, values.shape) * noise
    # Keep the wrapped angles in [-180, 180) after the noise, as a BVH exporter writes them.
    for index, name in enumerate(columns):
        if name.endswith("rotation"):
            values[:, index] = wrap(values[:, index])
    return list(columns), values


def write_mocap(path: Path, frames: int = 1200, rate: float = 120.0, seed: int = 0) -> Path:
    """``mocap`` as a BVH file: the joint tree, then ``Frame Time: 1 / rate``."""
    _, values = mocap(frames, rate, seed)
    lines = ["HIERARCHY", f"ROOT {MOCAP_JOINTS[0]}", "{", "  OFFSET 0.0 0.0 0.0"]
    lines.append("  CHANNELS 6 Xposition Yposition Zposition " + " ".join(ROTATIONS))
    for joint in MOCAP_JOINTS[1:]:
        lines += [f"  JOINT {joint}", "  {", "    OFFSET 0.0 10.0 0.0"]
        lines += ["    CHANNELS 3 " + " ".join(ROTATIONS), "    End Site", "    {"]
        lines += ["      OFFSET 0.0 5.0 0.0", "    }", "  }"]
    lines += ["}", "MOTION", f"Frames: {frames}", f"Frame Time: {1 / rate:.8f}"]
    lines += [" ".join(f"{v:.4f}" for v in row) for row in values]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
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


def write_colour_folder(root: Path, per_class: int = 12, size: int = 16) -> Path:
    """``root/{red,blue}/<n>.png``: noisy images of two colours, a model learns them at once."""
    rng = np.random.default_rng(0)
    for name, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            noise = rng.integers(-40, 40, (size, size, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return root


def write_pattern_folder(root: Path, per_class: int = 16, size: int = 64) -> Path:
    """``root/{rows,columns,dots}/<n>.png``: a square of stripes across, stripes down or dots,
    of a random light colour, side and place on a random dark background: only the pattern
    tells the class, as a photo's colours and framing do not."""
    rng = np.random.default_rng(0)
    for name in ("rows", "columns", "dots"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            background = tuple(int(v) for v in rng.integers(0, 80, 3))
            colour = tuple(int(v) for v in rng.integers(150, 256, 3))
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            side = int(rng.integers(size // 2, size))
            left, top = (int(v) for v in rng.integers(0, size - side + 1, 2))
            for step in range(0, side - 2, 6):
                if name == "rows":
                    draw.rectangle((left, top + step, left + side, top + step + 2), fill=colour)
                elif name == "columns":
                    draw.rectangle((left + step, top, left + step + 2, top + side), fill=colour)
                else:
                    for across in range(0, side - 2, 6):
                        x, y = left + across, top + step
                        draw.rectangle((x, y, x + 2, y + 2), fill=colour)
            image.save(root / name / f"{index}.png")
    return root


def write_sklearn_table(path: Path, name: str) -> Path:
    """scikit-learn's bundled ``diabetes`` (regression, target ``progression`` in its own
    units) or ``wine`` (target ``cultivar``: class names) as a CSV file with a header."""
    from sklearn.datasets import load_diabetes, load_wine

    if name == "diabetes":
        table = load_diabetes(scaled=False)
        header, targets = [*table.feature_names, "progression"], [f"{v:g}" for v in table.target]
    else:
        table = load_wine()
        header, targets = [*table.feature_names, "cultivar"], table.target_names[table.target]
    lines = [",".join(header)]
    for row, target in zip(table.data, targets, strict=True):
        lines.append(",".join([*(repr(float(v)) for v in row), target]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


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
