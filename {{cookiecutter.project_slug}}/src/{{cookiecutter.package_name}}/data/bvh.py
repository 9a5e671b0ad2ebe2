"""A reader for BVH motion capture, the text format of most mocap tools.

BVH is a small, stable format (a joint tree, then one line of channel values per frame),
so a few lines of parsing replace an SDK dependency.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.errors import DataError
from .files import read_text


@dataclass
class Motion:
    """The channels of a BVH file, named ``<joint>_<channel>`` (e.g. ``Hips_Xrotation``)."""

    channels: list[str]
    frames: np.ndarray  # (frames, channels), float32
    frame_time: float  # seconds between frames
    root: str  # the ROOT joint, whose position channels place the whole body


def _count(path: str | Path, token: str, what: str) -> int:
    """A whole number >= 0 read from the file, or an error naming ``what`` it counts."""
    if not (token.isascii() and token.isdigit()):
        raise DataError(f"{path}: {what} must be a whole number, got {token!r}")
    return int(token)


def _frames(path: str | Path, tokens: list[str], count: int, channels: int) -> np.ndarray:
    if len(tokens) != count * channels:
        raise DataError(
            f"{path}: expected {count} frames of {channels} channels, found {len(tokens)} values"
        )
    try:
        values = np.array(tokens, dtype=np.float32)
    except ValueError:
        # Only a failed conversion says where; find the first bad value for the message.
        index = next(i for i, token in enumerate(tokens) if not _is_number(token))
        raise DataError(
            f"{path}: frame {index // channels + 1} has {tokens[index]!r} where a number belongs"
        ) from None
    return values.reshape(count, channels)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_bvh(path: str | Path) -> Motion:
    tokens = read_text(path).split()
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
            if not joints:
                raise DataError(f"{path}: CHANNELS appears before any ROOT or JOINT")
            count = _count(path, tokens[position + 1], "the number after CHANNELS")
            names = tokens[position + 2 : min(position + 2 + count, motion_at)]
            channels += [f"{joints[-1]}_{name}" for name in names]
            position += 2 + count
        else:  # braces, OFFSET values, End Site: the skeleton's geometry, not signals
            position += 1
    if not channels:
        raise DataError(f"{path}: its HIERARCHY declares no CHANNELS, so there is no motion")
    header = tokens[motion_at + 1 : motion_at + 6]
    if header[:1] != ["Frames:"] or header[2:4] != ["Frame", "Time:"] or len(header) < 5:
        raise DataError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: T'")
    count = _count(path, header[1], "'Frames:'")
    if not _is_number(header[4]) or not float(header[4]) > 0:
        raise DataError(
            f"{path}: 'Frame Time:' must be a positive number of seconds, got {header[4]!r}"
        )
    frames = _frames(path, tokens[motion_at + 6 :], count, len(channels))
    return Motion(channels, frames, float(header[4]), joints[0])
