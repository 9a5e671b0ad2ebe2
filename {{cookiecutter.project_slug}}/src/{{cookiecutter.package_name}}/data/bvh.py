"""A reader for BVH motion capture, the text format of most mocap tools.

BVH is a small, stable format (a joint tree, then one line of channel values per frame),
so a few lines of parsing replace an SDK dependency.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.errors import DataError


@dataclass
class Motion:
    """The channels of a BVH file, named ``<joint>_<channel>`` (e.g. ``Hips_Xrotation``)."""

    channels: list[str]
    frames: np.ndarray  # (frames, channels), float32
    frame_time: float  # seconds between frames


def read_bvh(path: str | Path) -> Motion:
    tokens = Path(path).read_text().split()
    if not tokens or tokens[0] != "HIERARCHY" or "MOTION" not in tokens:
        raise DataError(f"{path} is not a BVH file: it needs a HIERARCHY and a MOTION section")
    motion_at = tokens.index("MOTION")
    channels: list[str] = []
    joints: list[str] = []
    position = 1
    while position < motion_at:
        token = tokens[position]
        if token in ("ROOT", "JOINT"):
            joints.append(tokens[position + 1])
            position += 2
        elif token == "CHANNELS":
            count = int(tokens[position + 1])
            names = tokens[position + 2 : position + 2 + count]
            channels += [f"{joints[-1]}_{name}" for name in names]
            position += 2 + count
        else:  # braces, OFFSET values, End Site: the skeleton's geometry, not signals
            position += 1
    header = tokens[motion_at + 1 : motion_at + 6]
    if header[:1] != ["Frames:"] or header[2:4] != ["Frame", "Time:"]:
        raise DataError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: T'")
    count, frame_time = int(header[1]), float(header[4])
    values = np.array(tokens[motion_at + 6 :], dtype=np.float32)
    if values.size != count * len(channels):
        raise DataError(
            f"{path}: expected {count} frames of {len(channels)} channels, "
            f"found {values.size} values"
        )
    return Motion(channels, values.reshape(count, len(channels)), frame_time)
