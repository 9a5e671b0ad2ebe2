"""Your own images: one subfolder per class, any format Pillow reads."""

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..utils.errors import ConfigError, DataError
from ..utils.ranks import is_rank_zero
from .base import DataModule
from .image_preprocessing import FITS, IMAGE_SUFFIXES, ImagePreprocessing, augment, load_image

# The mean and deviation of each channel are estimated from at most this many training
# images: enough for two decimals, and quick to read before training starts.
STATISTICS_SAMPLE = 256


class ImageFileDataset(Dataset):
    """Images read, resized and encoded one at a time, so a folder need not fit in memory."""

    def __init__(
        self,
        files: list[tuple[Path, int]],
        preprocessing: ImagePreprocessing,
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.files = files
        self.size = preprocessing.size
        self.mode = preprocessing.mode
        self.fit = preprocessing.fit
        self.encode: nn.Module = preprocessing.encode()
        self.crop_padding = crop_padding
        self.flip = flip

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path, label = self.files[index]
        pixels = load_image(path, self.size, self.mode, str(path), self.fit).float()
        pixels = augment(pixels, self.crop_padding, self.flip)
        return self.encode(pixels), torch.tensor(label)


def channel_statistics(
    files: list[Path], size: tuple[int, int], mode: str, fit: str
) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of each channel of ``pixels / 255`` over ``files``, read
    as training reads them."""
    total = torch.zeros(len(mode), dtype=torch.float64)
    squares = torch.zeros(len(mode), dtype=torch.float64)
    for path in files:
        pixels = load_image(path, size, mode, str(path), fit).double() / 255
        total += pixels.sum((1, 2))
        squares += pixels.square().sum((1, 2))
    count = len(files) * size[0] * size[1]
    mean = total / count
    # A channel of one colour throughout would divide by zero: one grey level at least.
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1 / 255)
    return mean.tolist(), std.tolist()


class ImageFolderDataModule(DataModule):
    """``path/<class name>/<image>``: class names are the subfolder names, sorted.

    Images are resized to ``image_size`` (``[height, width]`` or one number for squares)
    keeping their aspect ratio, their centre cut out (``fit: crop``; ``pad`` or ``stretch``:
    ``image_preprocessing.FITS``), in colour (``channels: 3``) or grey (``channels: 1``), and
    standardised per channel with the training images' mean and deviation; the split is
    random, fixed by ``split_seed``. A subfolder without images is not a class: it is named
    in a warning (hidden ones, such as ``.ipynb_checkpoints``, are skipped silently).
    """

    kind = "classification"

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
        fit: str = "crop",
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
        if fit not in FITS:
            raise ConfigError(f"data.fit must be one of {', '.join(FITS)}, got {fit!r}")
        self.fit = fit
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
            if file.suffix.lower() in IMAGE_SUFFIXES
        ]
        self.test_files: list[Path] = []

    def find_classes(self) -> list[str]:
        folders = sorted(
            folder
            for folder in self.path.iterdir()
            if folder.is_dir() and not folder.name.startswith(".")
        )
        names = []
        for folder in folders:
            if any(f.suffix.lower() in IMAGE_SUFFIXES for f in folder.iterdir()):
                names.append(folder.name)
            else:
                # One line, not an error: a class folder not filled yet should not stop a run,
                # nor vanish from it unnoticed.
                if is_rank_zero():  # once, not once per DDP process
                    print(f"warning: {folder} holds no images: not a class", file=sys.stderr)
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

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        train, val, test = self.split_indices(
            len(self.files),
            self.val_fraction,
            self.test_fraction,
            self.split_seed,
            f"images in {self.path}",
        )
        # The training indices are in random order already: their first ones are a sample.
        sample = train[:STATISTICS_SAMPLE]
        mean, std = channel_statistics(
            [self.files[i][0] for i in sample], self.size, self.mode, self.fit
        )
        preprocessing = ImagePreprocessing(
            size=list(self.size),
            mode=self.mode,
            mean=mean,
            std=std,
            classes=list(self.classes),
            root=str(self.path.resolve()),
            fit=self.fit,
        )
        self.preprocessing = preprocessing
        self.test_files = [self.files[i][0] for i in test]

        def dataset(part: np.ndarray, **augmentation) -> ImageFileDataset:
            files = [self.files[i] for i in part]
            return ImageFileDataset(files, preprocessing, **augmentation)

        augmentation = {"crop_padding": self.crop_padding, "flip": self.flip}
        return dataset(train, **augmentation), dataset(val), dataset(test)

    def test_keys(self) -> tuple[list[str], list[int]]:
        """Each test image's path under ``data.path`` (``cat/003.png``), as ``read`` keys it."""
        self.splits  # noqa: B018 - the split decides the test examples
        sources = [file.relative_to(self.path).as_posix() for file in self.test_files]
        return sources, [0] * len(sources)
