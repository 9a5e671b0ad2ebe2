"""Defaults that suit the images they meet: the cnn deepens for large images, images of
another shape keep their aspect ratio, a folder without images is named, and MNIST or
CIFAR-10 without their files say which files belong where."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from torch import nn

from {{ cookiecutter.package_name }}.data.image_folder import ImageFolderDataModule
from {{ cookiecutter.package_name }}.data.image_preprocessing import load_image
from {{ cookiecutter.package_name }}.data.mnist_cifar import (
    CIFAR10DataModule,
    MNISTDataModule,
    md5sum,
)
from {{ cookiecutter.package_name }}.models.cnn import CNN
from {{ cookiecutter.package_name }}.utils.errors import ConfigError, DataError

from .conftest import run_python
from .datafiles import write_cifar10, write_image_folder, write_mnist, write_pattern_folder
from .test_bad_values import check_one_line


def conv_blocks(model: CNN) -> int:
    return sum(isinstance(layer, nn.Conv1d | nn.Conv2d) for layer in model.features)


@pytest.mark.parametrize(
    ("input_shape", "blocks"),
    [
        ((1, 8, 8), 2),  # digits
        ((1, 28, 28), 2),  # MNIST
        ((3, 32, 32), 2),  # CIFAR-10
        ((3, 64, 64), 3),
        ((3, 96, 48), 4),  # the longer side decides
        ((3, 224, 224), 5),
        ((64, 3), 2),  # a sequence keeps exactly its channels
    ],
)
def test_cnn_adds_blocks_until_the_feature_map_is_small(input_shape, blocks):
    model = CNN(input_shape, num_outputs=4, max_feature_size=8)
    assert conv_blocks(model) == blocks
    assert model(torch.zeros(2, *input_shape)).shape == (2, 4)
    if len(input_shape) == 3:
        features = model.features(torch.zeros(1, *input_shape))
        assert max(features.shape[-2:]) <= 8


def test_cnn_without_max_feature_size_keeps_its_channels():
    """As runs saved before the option were built: their checkpoints still load."""
    assert conv_blocks(CNN((3, 224, 224), 4, channels=[8, 16])) == 2


def test_the_shipped_cnn_config_deepens_for_large_images(make_cfg):
    model = instantiate(make_cfg(["model=cnn"]).model, input_shape=(3, 64, 64), num_outputs=3)
    assert conv_blocks(model) == 3


@pytest.mark.slow
def test_default_cnn_learns_an_image_folder_of_64x64_patterns(tmp_path):
    """The command of the README's image folder section, briefly: 20 images a class."""
    root = write_pattern_folder(tmp_path / "patterns", per_class=20)
    (root / "todo").mkdir()  # a class not filled yet: named, and not a class
    log_dir = tmp_path / "logs"
    result = run_python(
        "train.py",
        "data=image_folder",
        f"data.path={root}",
        "model=cnn",
        "data.batch_size=8",
        "data.test_fraction=0.25",
        "trainer.max_epochs=6",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=null",
        "callbacks.plots=null",
        f"paths.log_dir={log_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"warning: {root / 'todo'} holds no images: not a class" in result.stderr
    metrics = json.loads((log_dir / "train" / "latest" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.9, metrics


def write_wide_image(path: Path) -> Path:
    """A 128x64 image: a red 64x64 centre between blue sides."""
    pixels = np.zeros((64, 128, 3), dtype=np.uint8)
    pixels[:, :, 2] = 255
    pixels[:, 32:96] = (255, 0, 0)
    Image.fromarray(pixels).save(path)
    return path


def test_images_of_another_shape_keep_their_aspect_ratio(tmp_path):
    wide = write_wide_image(tmp_path / "wide.png")
    crop = load_image(wide, [32, 32], "RGB", "wide.png", "crop")
    assert crop.shape == (3, 32, 32)
    inside = crop[:, :, 2:-2]  # the filter blends the edge columns with what was cut off
    assert (inside[0] > 250).all() and (inside[2] < 5).all()  # the red centre, whole
    pad = load_image(wide, [32, 32], "RGB", "wide.png", "pad")
    assert (pad[:, :8] == 0).all() and (pad[:, -8:] == 0).all()  # black bands above, below
    assert (pad[2, 12:20, :4] > 250).all() and (pad[0, 12:20, 12:20] > 250).all()
    stretch = load_image(wide, [32, 32], "RGB", "wide.png", "stretch")
    assert (stretch[2, :, :4] > 250).all()  # the sides squeezed in


def test_an_image_folder_crops_by_default_and_predicts_alike(tmp_path):
    root = write_image_folder(tmp_path / "photos")
    write_wide_image(root / "cat" / "wide.png")
    data = ImageFolderDataModule(path=str(root), image_size=16)
    data.splits  # noqa: B018 - fits the preprocessing
    assert data.preprocessing.fit == "crop"
    assert "fit=crop" in data.preprocessing.steps()[0]
    example = data.preprocessing.read(root / "cat" / "wide.png")
    cropped = load_image(root / "cat" / "wide.png", [16, 16], "RGB", "wide.png", "crop")
    assert torch.equal(example.raw[0], cropped.float())


def test_a_subfolder_without_images_is_named_in_one_warning_line(tmp_path, capsys):
    root = write_image_folder(tmp_path / "photos")
    (root / "empty").mkdir()
    (root / "texts").mkdir()
    (root / "texts" / "readme.txt").write_text("no images here")
    (root / ".ipynb_checkpoints").mkdir()  # hidden: skipped silently
    data = ImageFolderDataModule(path=str(root))
    assert data.class_names == ["cat", "dog", "fish"]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {root / 'empty'} holds no images: not a class",
        f"warning: {root / 'texts'} holds no images: not a class",
    ]


def test_an_unknown_fit_is_refused(tmp_path):
    root = write_image_folder(tmp_path / "photos")
    with pytest.raises(ConfigError, match=r"data\.fit must be one of crop, pad, stretch, got 'sq"):
        ImageFolderDataModule(path=str(root), fit="squash")


def test_missing_mnist_files_are_named_with_their_folder_in_one_line(tmp_path):
    data_dir = tmp_path / "data"
    check_one_line(
        tmp_path / "logs",
        ["train.py", "data=mnist", f"data.data_dir={data_dir}", "data.download=false"],
        "MNIST needs train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in {data_dir / 'MNIST' / 'raw'}; "
        "put them there or set data.download=true",
    )


def test_missing_cifar10_files_are_named_with_their_folder(tmp_path):
    folder = write_cifar10(tmp_path) / "cifar-10-batches-bin"
    for name in ("data_batch_2.bin", "test_batch.bin"):
        (folder / name).unlink()
    with pytest.raises(DataError) as error:
        CIFAR10DataModule(data_dir=str(tmp_path), download=False)
    assert str(error.value) == (
        f"CIFAR-10 needs data_batch_2.bin, test_batch.bin in {folder}; put them there or set "
        "data.download=true"
    )


def test_a_failed_download_names_the_files_to_put_in_place(tmp_path, monkeypatch):
    mirror = write_mnist(tmp_path / "mirror") / "MNIST" / "raw"
    sums = {name: md5sum(mirror / f"{name}.gz") for name in MNISTDataModule.checksums}
    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()  # the mirror lacks one file
    monkeypatch.setattr(MNISTDataModule, "mirrors", (f"{mirror.as_uri()}/",))
    monkeypatch.setattr(MNISTDataModule, "checksums", sums)
    data = MNISTDataModule(data_dir=str(tmp_path / "data"))
    raw = (tmp_path / "data" / "MNIST" / "raw").resolve()
    with pytest.raises(DataError, match=r"could not download t10k-labels-idx1-ubyte\.gz") as error:
        data.prepare_data()
    assert str(error.value).endswith(f"; or put t10k-labels-idx1-ubyte.gz in {raw} yourself")
