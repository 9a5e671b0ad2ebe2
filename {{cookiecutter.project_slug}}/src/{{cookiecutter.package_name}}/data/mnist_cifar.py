"""MNIST and CIFAR-10, read from their standard files and downloaded on first use.

The readers are a few lines each (IDX arrays, CIFAR-10's binary records), so these
datasets need no torchvision: it stays an optional extra, for pretrained models only.
Nothing here unpickles: every file is read as plain bytes, and every download is checked
against the checksum its authors publish before it is used.
"""

import gzip
import hashlib
import tarfile
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar
from urllib.error import URLError

import numpy as np
import torch
from torch.hub import download_url_to_file
from torch.utils.data import Dataset

from ..utils.errors import DataError
from .base import DataModule
from .image_preprocessing import ImageDataset, ImagePreprocessing


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (MNIST's format), gzipped or not."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
        data = file.read()
    if data[:3] != b"\x00\x00\x08":
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return torch.from_numpy(values.reshape(shape.astype(int)).copy())


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_first(urls: list[str], destination: Path, md5: str) -> None:
    """Fetch the first URL that answers with the file whose MD5 is ``md5`` into
    ``destination`` (mirrors come and go; a file that does not match is deleted)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        try:
            download_url_to_file(url, str(destination))
        except (URLError, OSError) as error:
            errors.append(f"{url}: {error}")
            continue
        found = md5sum(destination)
        if found == md5:
            return
        destination.unlink()
        errors.append(f"{url}: MD5 {found} is not the published {md5}")
    raise DataError(f"could not download {destination.name}: {'; '.join(errors)}")


class VisionDataModule(DataModule):
    """A standard image-classification dataset under ``data_dir``; the validation split is
    carved out of the official training set (fixed by ``split_seed``), the official test
    set is the test split. ``crop_padding`` and ``flip`` augment training images only.
    Pixels are standardised with the per-channel mean and deviation its authors publish
    for the training set."""

    title: ClassVar[str]
    shape: ClassVar[tuple[int, int, int]]
    classes: ClassVar[list[str]]
    mean: ClassVar[tuple[float, ...]]
    std: ClassVar[tuple[float, ...]]

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = True,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        crop_padding: int = 0,
        flip: bool = False,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        self.data_dir = Path(data_dir)
        self.download = download
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.crop_padding = crop_padding
        self.flip = flip
        self.test_size = 0
        if not download:
            self.require_files()  # before the run writes anything

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def num_outputs(self) -> int:
        return len(self.classes)

    @property
    def class_names(self) -> list[str]:
        return list(self.classes)

    @property
    @abstractmethod
    def folder(self) -> Path:
        """Where the dataset's files are, under ``data_dir``."""

    @abstractmethod
    def missing(self) -> list[str]:
        """The names of the dataset's files that are not in ``folder``."""

    @abstractmethod
    def fetch(self) -> None:
        """Download the dataset's files into ``data_dir``."""

    @abstractmethod
    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images ``(N, C, H, W)`` and int64 labels of the official train or test set."""

    def expected(self) -> str:
        """The missing files and the folder they belong in, exactly: a machine that cannot
        download needs them copied there."""
        return f"{', '.join(self.missing())} in {self.folder.resolve()}"

    def require_files(self) -> None:
        if self.missing():
            raise DataError(
                f"{self.title} needs {self.expected()}; put them there or set data.download=true"
            )

    def prepare_data(self) -> None:
        # Lightning calls this on one process per machine: the download happens once.
        if not self.download:
            self.require_files()
        elif self.missing():
            try:
                self.fetch()
            except DataError as error:
                raise DataError(f"{error}; or put {self.expected()} yourself") from None

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        self.prepare_data()
        images, labels = self.read(train=True)
        order = torch.randperm(
            len(labels), generator=torch.Generator().manual_seed(self.split_seed)
        )
        n_val = max(1, round(len(labels) * self.val_fraction))
        val, train = order[:n_val], order[n_val:]
        test_images, test_labels = self.read(train=False)
        self.test_size = len(test_labels)
        self.preprocessing = ImagePreprocessing(
            size=list(self.shape[1:]),
            mode="L" if self.shape[0] == 1 else "RGB",
            mean=list(self.mean),
            std=list(self.std),
            classes=list(self.classes),
            fit="crop",
        )
        encode = self.preprocessing.encode()
        return (
            ImageDataset(images[train], labels[train], encode, self.crop_padding, self.flip),
            ImageDataset(images[val], labels[val], encode),
            ImageDataset(test_images, test_labels, encode),
        )

    def test_keys(self) -> tuple[list[str], list[int]]:
        """``("test", n)``: the n-th image of the official test set."""
        self.splits  # noqa: B018 - reading the test set counts it
        return ["test"] * self.test_size, list(range(self.test_size))


class MNISTDataModule(VisionDataModule):
    """28x28 handwritten digits: ``<data_dir>/MNIST/raw/*-ubyte[.gz]`` (IDX files)."""

    title = "MNIST"
    shape = (1, 28, 28)
    classes: ClassVar[list[str]] = [str(digit) for digit in range(10)]
    mean = (0.1307,)
    std = (0.3081,)
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    files: ClassVar[dict[bool, tuple[str, str]]] = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    # The MD5 of each gzipped file, as torchvision and the mirrors publish them.
    checksums: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    }

    @property
    def folder(self) -> Path:
        return self.data_dir / "MNIST" / "raw"

    def path(self, name: str) -> Path | None:
        for candidate in (self.folder / name, self.folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def missing(self) -> list[str]:
        return [
            f"{name}.gz"
            for names in self.files.values()
            for name in names
            if self.path(name) is None
        ]

    def fetch(self) -> None:
        for names in self.files.values():
            for name in names:
                if self.path(name) is None:
                    gz = f"{name}.gz"
                    urls = [mirror + gz for mirror in self.mirrors]
                    download_first(urls, self.folder / gz, self.checksums[name])

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = (read_idx(self.path(name)) for name in self.files[train])
        return images.unsqueeze(1), labels.long()


class CIFAR10DataModule(VisionDataModule):
    """32x32 colour images of 10 classes: ``<data_dir>/cifar-10-batches-bin/*.bin``, the
    official binary version (records of 1 label byte + 3072 pixel bytes). Not the Python
    version: its batches are pickles, and unpickling a file planted there would run code."""

    title = "CIFAR-10"
    shape = (3, 32, 32)
    classes: ClassVar[list[str]] = [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ]  # fmt: skip
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    # Published next to the archive on https://www.cs.toronto.edu/~kriz/cifar.html
    md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    batches: ClassVar[dict[bool, list[str]]] = {
        True: [f"data_batch_{i}.bin" for i in range(1, 6)],
        False: ["test_batch.bin"],
    }

    @property
    def folder(self) -> Path:
        return self.data_dir / "cifar-10-batches-bin"

    def missing(self) -> list[str]:
        return [
            name
            for names in self.batches.values()
            for name in names
            if not (self.folder / name).is_file()
        ]

    def fetch(self) -> None:
        archive = self.data_dir / "cifar-10-binary.tar.gz"
        download_first([self.url], archive, self.md5)
        with tarfile.open(archive) as tar:
            tar.extractall(self.data_dir, filter="data")
        archive.unlink()

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        records = [self.read_batch(self.folder / name) for name in self.batches[train]]
        data = torch.from_numpy(np.concatenate(records))
        return data[:, 1:].reshape(-1, *self.shape), data[:, 0].long()

    def read_batch(self, path: Path) -> np.ndarray:
        """One ``.bin`` file as rows of label + pixels, refused unless it has that shape."""
        data = np.fromfile(path, dtype=np.uint8)
        size = 1 + int(np.prod(self.shape))
        if data.size == 0 or data.size % size:
            raise DataError(
                f"{path} is not a CIFAR-10 binary batch (records of 1 label byte + "
                f"{size - 1} pixel bytes); delete it and set data.download=true"
            )
        records = data.reshape(-1, size)
        if records[:, 0].max() >= len(self.classes):
            raise DataError(f"{path} has labels above {len(self.classes) - 1}")
        return records
