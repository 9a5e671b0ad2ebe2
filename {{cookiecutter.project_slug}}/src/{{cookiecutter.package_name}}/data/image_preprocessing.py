"""Images, from files or arrays to model inputs: one reader and one preprocessing shared by
training, ``predict.py``, ``serve.py`` and ``export.py``.

Written with Pillow and plain torch ops because torchvision is an optional extra; these
few lines are all the MNIST, CIFAR and image-folder recipes need.
"""

import base64
import binascii
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

from ..utils.errors import DataError
from .batches import BatchDataset, as_index
from .preprocessing import Affine, Examples, Preprocessing, as_tensor, load_array, read_array

# The image formats an image folder holds and predict.py reads (all through Pillow).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
ARRAY_SUFFIXES = (".npy", ".pt")


# How an image of another shape than [height, width] is made to fit it (``fit``): ``crop``
# scales it to cover the size and cuts the centre out, ``pad`` scales it to fit inside and
# fills the sides with black, ``stretch`` scales each side on its own (shapes change).
FITS = ("crop", "pad", "stretch")


def load_image(
    source: Path | BinaryIO, size: Sequence[int], mode: str, name: str, fit: str
) -> torch.Tensor:
    """uint8 pixels ``(C, H, W)`` of an image file: converted to ``mode`` ("L" grey, "RGB")
    and resized to ``size`` ([height, width]) as ``fit`` says (``FITS``), with a bicubic
    filter, named so that another Pillow's default cannot change it; training and prediction
    both read this way."""
    target, resample = (int(size[1]), int(size[0])), Image.Resampling.BICUBIC
    try:
        with Image.open(source) as image:
            image = image.convert(mode)
            if fit == "crop":
                resized = ImageOps.fit(image, target, resample)
            elif fit == "pad":
                resized = ImageOps.pad(image, target, resample)
            else:
                resized = image.resize(target, resample)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise DataError(f"{name} is not an image Pillow can read ({reason})") from None
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy())
    return pixels.reshape(int(size[0]), int(size[1]), -1).permute(2, 0, 1)


def pixel_examples(values: Any, shape: Sequence[int], what: str) -> torch.Tensor:
    """float32 examples ``(N, C, H, W)`` of pixel values 0..255 from an array or nested lists
    ``(N, C, H, W)``, ``(N, H, W, C)`` (as numpy and Pillow store images) or, for one
    channel, ``(N, H, W)``; one example may leave out ``N``."""
    try:
        raw = torch.as_tensor(values, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0]
        raise DataError(f"{what} is not an array of numbers ({reason})") from None
    channels, height, width = shape
    if raw.dim() in (3, 4) and tuple(raw.shape[-3:]) == (height, width, channels) != tuple(shape):
        raw = raw.movedim(-1, -3)
    elif channels == 1 and raw.dim() in (2, 3) and tuple(raw.shape[-2:]) == (height, width):
        raw = raw.unsqueeze(-3)
    raw = as_tensor(raw, shape, what)
    if raw.numel() and not (torch.isfinite(raw).all() and raw.min() >= 0 and raw.max() <= 255):
        raise DataError(
            f"{what} has pixel values from {raw.min():g} to {raw.max():g}; give values 0..255, "
            "as image files store them"
        )
    if raw.numel() and raw.max() <= 1 and (raw != raw.round()).any():
        raise DataError(
            f"{what} has pixel values between 0 and 1; give values 0..255 (multiply by 255)"
        )
    return raw


def decode_base64(text: str, what: str) -> bytes:
    """The bytes of a base64 string, or of a ``data:image/...;base64,`` URL as browsers give."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise DataError(f"{what} is not base64 of an image file ({error})") from None


@dataclass
class ImagePreprocessing(Preprocessing):
    """Pixels 0..255 -> ``(pixels / 255 - mean) / std`` per channel.

    Reads image files (resized to ``size`` in ``mode``, as training reads them) and pixel
    arrays. Files under ``root``, the folder the model was trained from, are keyed by their
    path under it (``cat/003.png``), as the run's test predictions are; others by file name.
    """

    suffixes = (*IMAGE_SUFFIXES, *ARRAY_SUFFIXES)
    # An image file's examples are counted 0; an array's by its first dimension.
    index_name = "index"

    size: list[int]  # [height, width]
    mode: str  # Pillow's "L" (grey) or "RGB"
    mean: list[float]  # per channel, of pixels / 255
    std: list[float]
    classes: list[str]
    root: str | None = None
    kind: str = "classification"
    # One of FITS; "stretch" is how the runs saved before this field read their images.
    fit: str = "stretch"

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return (len(self.mode), *self.size)

    @property
    def output_names(self) -> list[str]:
        return list(self.classes)

    def source_of(self, path: Path) -> str:
        if self.root is not None and path.resolve().is_relative_to(self.root):
            return path.resolve().relative_to(self.root).as_posix()
        return path.name

    def read(self, path: Path) -> Examples:
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            raw = load_image(path, self.size, self.mode, str(path), self.fit)
            raw = raw.float().unsqueeze(0)
            return Examples([self.source_of(path)], [0], raw)
        if suffix in ARRAY_SUFFIXES:
            raw = pixel_examples(load_array(path), self.raw_shape, str(path))
            return Examples([path.name] * len(raw), list(range(len(raw))), raw)
        raise DataError(
            f"{path}: cannot read {suffix or 'extension-less'} files; give an image "
            f"({', '.join(IMAGE_SUFFIXES)}) or pixel values 0..255 in .npy or .pt"
        )

    def from_json(self, inputs: list[Any]) -> Examples:
        """Each input is the base64 of an image file, or pixels ``(C, H, W)`` 0..255."""
        examples = []
        for number, item in enumerate(inputs):
            what = f"inputs[{number}]"
            if isinstance(item, str):
                data = io.BytesIO(decode_base64(item, what))
                image = load_image(data, self.size, self.mode, what, self.fit)
                examples.append(image.float().unsqueeze(0))
                continue
            raw = pixel_examples(item, self.raw_shape, what)
            if len(raw) != 1:
                raise DataError(f"{what} holds {len(raw)} images; give one image per input")
            examples.append(raw)
        raw = torch.cat(examples) if examples else torch.zeros(0, *self.raw_shape)
        return Examples(["request"] * len(raw), list(range(len(raw))), raw)

    def encode(self) -> nn.Module:
        # One multiply-add per channel, shaped (C, 1, 1) to broadcast over the pixels.
        scale = [[[1 / (255 * std)]] for std in self.std]
        shift = [[[-mean / std]] for mean, std in zip(self.mean, self.std, strict=True)]
        return Affine(scale, shift)


def augment(image: torch.Tensor, crop_padding: int, flip: bool) -> torch.Tensor:
    """Random crop of the original size from a zero-padded image, and a random mirror."""
    return augment_batch(image.unsqueeze(0), crop_padding, flip)[0]


def augment_batch(images: torch.Tensor, crop_padding: int, flip: bool) -> torch.Tensor:
    """``augment`` of each image ``(N, C, H, W)``, drawn for each: one gather of the pixels
    every crop and mirror picks, rather than a crop and a flip per image."""
    if not (crop_padding or flip):
        return images
    count, channels, height, width = images.shape
    rows = torch.arange(height).expand(count, height)
    columns = torch.arange(width).expand(count, width)
    if crop_padding:
        images = F.pad(images, (crop_padding,) * 4)
        top, left = torch.randint(0, 2 * crop_padding + 1, (2, count, 1))
        rows, columns = rows + top, columns + left
    if flip:
        columns = torch.where(torch.rand(count, 1) < 0.5, columns.flip(-1), columns)
    return images[
        torch.arange(count)[:, None, None, None],
        torch.arange(channels)[None, :, None, None],
        rows[:, None, :, None],
        columns[:, None, None, :],
    ]


class ImageDataset(BatchDataset):
    """``(image, label)`` pairs from uint8 images ``(N, C, H, W)``, kept as bytes in memory
    and encoded (and augmented, for training) a batch at a time."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        encode: nn.Module,
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.images = images
        self.labels = labels
        self.encode = encode
        self.crop_padding = crop_padding
        self.flip = flip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        index = as_index(indices)
        images = augment_batch(
            self.images.index_select(0, index).float(), self.crop_padding, self.flip
        )
        return [self.encode(images), self.labels.index_select(0, index)]


DIGIT_SHAPE = (1, 8, 8)
DIGIT_CLASSES = [str(digit) for digit in range(10)]


@dataclass
class DigitsPreprocessing(Preprocessing):
    """Pixel values 0..16, as scikit-learn stores them, -> [-1, 1]; nothing to fit."""

    suffixes = (".npy", ".pt", ".csv")

    kind: str = "classification"

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return DIGIT_SHAPE

    @property
    def output_names(self) -> list[str]:
        return DIGIT_CLASSES

    def read(self, path: Path) -> Examples:
        raw = read_array(path, DIGIT_SHAPE)
        return Examples([path.name] * len(raw), list(range(len(raw))), raw)

    def from_json(self, inputs: list[Any]) -> Examples:
        raw = as_tensor(inputs, DIGIT_SHAPE, "inputs")
        return Examples(["request"] * len(raw), list(range(len(raw))), raw)

    def encode(self) -> nn.Module:
        return Affine(1 / 8, -1.0)
