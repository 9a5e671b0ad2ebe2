"""Your own images: one subfolder per class, any format Pillow reads."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..utils.errors import ConfigError, DataError
from .base import DataModule
from .images import augment, normalise

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# Pixels are scaled to [-1, 1], as for the digits.
MEAN, STD = 0.5, 0.5


class ImageFileDataset(Dataset):
    """Images read, resized and normalised one at a time, so a folder need not fit in memory."""

    def __init__(
        self,
        files: list[tuple[Path, int]],
        size: tuple[int, int],
        mode: str,
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.files = files
        self.size = size
        self.mode = mode
        self.crop_padding = crop_padding
        self.flip = flip

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path, label = self.files[index]
        with Image.open(path) as image:
            resized = image.convert(self.mode).resize(self.size[::-1])
        pixels = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy())
        pixels = pixels.reshape(*self.size, -1).permute(2, 0, 1).float()
        pixels = augment(pixels, self.crop_padding, self.flip)
        channels = len(self.mode)
        return normalise(pixels, (MEAN,) * channels, (STD,) * channels), torch.tensor(label)


class ImageFolderDataModule(DataModule):
    """``path/<class name>/<image>``: class names are the subfolder names, sorted.

    Images are resized to ``image_size`` (``[height, width]`` or one number for squares),
    in colour (``channels: 3``) or grey (``channels: 1``); the split is random, fixed by
    ``split_seed``.
    """

    task = "classification"

    def __init__(
        self,
        path: str | None = None,
        image_size: int | list[int] = 64,
        channels: int = 3,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        crop_padding: int = 0,
        flip: bool = False,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        if path is None:
            raise ConfigError(
                "data=image_folder needs data.path=<folder with one subfolder per class>"
            )
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataError(f"data.path={path} is not a folder")
        if channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 (grey) or 3 (colour), got {channels}")
        size = [image_size] * 2 if isinstance(image_size, int) else list(image_size)
        self.size = (int(size[0]), int(size[1]))
        self.mode = "L" if channels == 1 else "RGB"
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.crop_padding = crop_padding
        self.flip = flip
        self.classes = self.find_classes()
        self.files = [
            (file, label)
            for label, folder in enumerate(self.classes)
            for file in sorted((self.path / folder).iterdir())
            if file.suffix.lower() in SUFFIXES
        ]

    def find_classes(self) -> list[str]:
        names = sorted(
            folder.name
            for folder in self.path.iterdir()
            if folder.is_dir() and any(f.suffix.lower() in SUFFIXES for f in folder.iterdir())
        )
        if len(names) < 2:
            raise DataError(
                f"{self.path} needs at least two subfolders of images, one per class; found {names}"
            )
        return names

    @property
    def class_names(self) -> list[str]:
        return self.classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.mode), *self.size)

    @property
    def num_outputs(self) -> int:
        return len(self.class_names)

    def preprocess(self, raw: torch.Tensor) -> torch.Tensor:
        return normalise(raw, (MEAN,) * len(self.mode), (STD,) * len(self.mode))

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        order = np.random.default_rng(self.split_seed).permutation(len(self.files))
        n_val = max(1, round(len(order) * self.val_fraction))
        n_test = max(1, round(len(order) * self.test_fraction))
        if len(order) - n_val - n_test < 1:
            raise DataError(f"{self.path} has too few images ({len(order)}) to split in three")
        val, test, train = np.split(order, [n_val, n_val + n_test])

        def dataset(part: np.ndarray, **augmentation) -> ImageFileDataset:
            files = [self.files[i] for i in part]
            return ImageFileDataset(files, self.size, self.mode, **augmentation)

        augmentation = {"crop_padding": self.crop_padding, "flip": self.flip}
        return dataset(train, **augmentation), dataset(val), dataset(test)
