"""MNIST, CIFAR-10, an image folder and a CSV table, read from files the tests write."""

import numpy as np
import pytest
import torch
from torch import nn

from {{ cookiecutter.package_name }}.data.csv_table import CSVDataModule
from {{ cookiecutter.package_name }}.data.image_preprocessing import augment
from {{ cookiecutter.package_name }}.data.mnist_cifar import CIFAR10DataModule, MNISTDataModule, md5sum
from {{ cookiecutter.package_name }}.models.pretrained import replace_head
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task
from {{ cookiecutter.package_name }}.tasks.classification import ClassificationTask
from {{ cookiecutter.package_name }}.tasks.regression import RegressionTask
from {{ cookiecutter.package_name }}.utils.errors import DataError

from .datafiles import (
    write_cifar10,
    write_cifar10_archive,
    write_image_folder,
    write_mnist,
    write_table,
)


def test_mnist_reads_gzipped_idx_files(tmp_path):
    data = MNISTDataModule(data_dir=str(write_mnist(tmp_path)), download=False, val_fraction=0.25)
    train, val, test = data.splits
    assert (len(train), len(val), len(test)) == (30, 10, 20)
    image, label = test[3]
    assert image.shape == data.input_shape == (1, 28, 28)
    assert int(label) == 3
    assert data.class_names == [str(d) for d in range(10)]


def test_cifar10_reads_binary_batches_and_augments_training_images(make_cfg, tmp_path):
    cfg = make_cfg(["data=cifar10", f"data.data_dir={write_cifar10(tmp_path)}"])
    data = build_data(cfg.data)
    assert isinstance(data, CIFAR10DataModule)
    train, val, test = data.splits
    assert len(train) + len(val) == 5 * 8
    assert len(test) == 16
    assert test[0][0].shape == data.input_shape == (3, 32, 32)
    assert data.class_names[0] == "airplane"
    assert [int(test[i][1]) for i in range(12)] == [i % 10 for i in range(12)]
    assert (train.crop_padding, train.flip) == (4, True)
    assert (val.crop_padding, val.flip) == (0, False)
    torch.manual_seed(0)
    assert not all(torch.equal(train[0][0], train[0][0]) for _ in range(5))
    torch.manual_seed(0)
    assert all(torch.equal(test[0][0], test[0][0]) for _ in range(5))


def test_augment_crops_from_the_padded_image_and_mirrors():
    image = torch.arange(16.0).reshape(1, 4, 4)
    torch.manual_seed(0)
    crops = [augment(image, crop_padding=1, flip=False) for _ in range(40)]
    assert all(crop.shape == image.shape for crop in crops)
    assert any(torch.equal(crop, image) for crop in crops)
    assert any(crop[0, 0, 0] == 0 and crop[0, 1, 1] == 0 for crop in crops)  # shifted in
    mirrors = [augment(image, crop_padding=0, flip=True) for _ in range(40)]
    assert any(torch.equal(m, image.flip(-1)) for m in mirrors)


def test_mnist_downloads_from_the_first_mirror_that_answers(tmp_path, monkeypatch):
    mirror = write_mnist(tmp_path / "mirror") / "MNIST" / "raw"
    dead = tmp_path / "gone"
    monkeypatch.setattr(MNISTDataModule, "mirrors", (f"{dead.as_uri()}/", f"{mirror.as_uri()}/"))
    sums = {name: md5sum(mirror / f"{name}.gz") for name in MNISTDataModule.checksums}
    monkeypatch.setattr(MNISTDataModule, "checksums", sums)
    data = MNISTDataModule(data_dir=str(tmp_path / "data"))
    data.prepare_data()
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in mirror.iterdir())
    assert len(data.splits[2]) == 20


def test_cifar10_downloads_and_unpacks_the_archive(tmp_path, monkeypatch):
    archive = write_cifar10_archive(tmp_path)
    monkeypatch.setattr(CIFAR10DataModule, "url", archive.as_uri())
    monkeypatch.setattr(CIFAR10DataModule, "md5", md5sum(archive))
    data = CIFAR10DataModule(data_dir=str(tmp_path / "data"))
    data.prepare_data()
    assert data.missing() == []
    assert not (tmp_path / "data" / "cifar-10-binary.tar.gz").exists()
    assert len(data.splits[2]) == 16


def test_missing_vision_files_without_download_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"set data\.download=true"):
        MNISTDataModule(data_dir=str(tmp_path), download=False)


def test_image_folder_infers_classes_and_resizes(make_cfg, tmp_path):
    root = write_image_folder(tmp_path / "photos")
    cfg = make_cfg(["data=image_folder", f"data.path={root}", "data.image_size=[12,16]"])
    data = build_data(cfg.data)
    assert data.class_names == ["cat", "dog", "fish"]
    assert data.input_shape == (3, 12, 16)
    train, val, test = data.splits
    assert len(train) + len(val) + len(test) == 24
    image, label = val[0]
    assert image.shape == (3, 12, 16)
    assert torch.isfinite(image).all()
    assert 0 <= int(label) < 3
    grey = build_data(make_cfg(["data=image_folder", f"data.path={root}", "data.channels=1"]).data)
    assert grey.input_shape == (1, 64, 64)
    assert grey.splits[0][0][0].shape == (1, 64, 64)


def test_csv_classification_from_a_text_target(make_cfg, tmp_path):
    path = write_table(tmp_path / "shapes.csv", target="class")
    cfg = make_cfg(["data=csv", f"data.path={path}", "model=mlp"])
    data = build_data(cfg.data)
    assert data.kind == "classification"
    assert data.class_names == ["large", "small"]
    assert data.input_shape == (3,)
    assert isinstance(build_task(cfg, data), ClassificationTask)
    train, _, _ = data.splits
    features = torch.stack([train[i][0] for i in range(len(train))])
    assert torch.isfinite(features).all()  # the missing depths were filled
    torch.testing.assert_close(features.mean(0), torch.zeros(3), atol=1e-5, rtol=0)


def test_csv_regression_from_a_real_target_with_chosen_features(tmp_path):
    path = write_table(tmp_path / "volume.csv", target="real")
    data = CSVDataModule(path=str(path), target="target", features=["width", "height"])
    assert data.kind == "regression"
    assert (data.input_shape, data.num_outputs, data.class_names) == ((2,), 1, None)
    inputs, target = data.splits[0][0]
    assert inputs.shape == (2,)
    assert target.shape == (1,)
    assert target.dtype == torch.float32
    assert CSVDataModule(path=str(path), kind="classification").kind == "classification"


def test_csv_whole_number_target_with_few_values_is_classification(tmp_path):
    path = tmp_path / "grades.csv"
    rows = [f"{x:.3f},{int(x > 0) + int(x > 1)}" for x in np.linspace(-2, 2, 30)]
    path.write_text("score,grade\n" + "\n".join(rows) + "\n")
    data = CSVDataModule(path=str(path))
    assert data.kind == "classification"
    assert data.class_names == ["0", "1", "2"]


def test_csv_text_feature_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,age,tall\nann,30,1\nbob,40,0\n")
    with pytest.raises(
        DataError, match=r"column 'name' .* not numeric; .* data.features=\[\.\.\.\]"
    ):
        CSVDataModule(path=str(path)).input_shape  # noqa: B018


def test_regression_data_gets_the_regression_task(make_cfg, tmp_path):
    path = write_table(tmp_path / "volume.csv", target="real")
    cfg = make_cfg(["data=csv", f"data.path={path}"])
    assert isinstance(build_task(cfg, build_data(cfg.data)), RegressionTask)


def test_replace_head_swaps_the_last_linear_layer_for_the_data_outputs():
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    resnet_like = nn.Sequential(backbone, nn.Linear(8, 1000))
    assert replace_head(resnet_like, 7)(torch.zeros(2, 3, 16, 16)).shape == (2, 7)
    classifier = nn.Sequential(nn.Dropout(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1000))
    assert replace_head(classifier, 3)[3].out_features == 3


def test_resnet_without_torchvision_says_how_to_install_it(make_cfg):
    cfg = make_cfg(["model=resnet"])
    with pytest.raises(
        ImportError, match=r"^model resnet18 needs torchvision: pip install '\.\[vision\]'$"
    ):
        build_task(cfg, build_data(cfg.data))
