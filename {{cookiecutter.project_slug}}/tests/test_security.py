"""Files under data_dir never run code, downloads are checked, credentials stay out of runs."""

import pickle
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data.mnist_cifar import CIFAR10DataModule, MNISTDataModule, md5sum
from {{ cookiecutter.package_name }}.utils.errors import DataError

from .conftest import SHORT_RUN
from .datafiles import write_cifar10, write_cifar10_archive, write_mnist


class Planted:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Planted(marker)))


def cifar10_run(data_dir: Path) -> tuple[str, ...]:
    return ("train.py", "data=cifar10", f"data.data_dir={data_dir}", "data.download=false")


@pytest.mark.slow
def test_pickles_where_cifar10_python_batches_go_are_never_loaded(run_script, tmp_path):
    data_dir = write_cifar10(tmp_path / "data")
    marker = tmp_path / "code-ran"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        plant(data_dir / "cifar-10-batches-py" / name, marker)
    run_script(*cifar10_run(data_dir), *SHORT_RUN, "logger=none")
    assert not marker.exists()


def test_a_pickle_planted_as_a_cifar10_binary_batch_is_refused_in_one_line(run_script, tmp_path):
    data_dir = write_cifar10(tmp_path / "data")
    marker = tmp_path / "code-ran"
    plant(data_dir / "cifar-10-batches-bin" / "data_batch_1.bin", marker)
    result = run_script(*cifar10_run(data_dir), *SHORT_RUN, check=False)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not a CIFAR-10 binary batch" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_cifar10_archive_that_does_not_match_the_published_md5_is_deleted(tmp_path, monkeypatch):
    archive = write_cifar10_archive(tmp_path)
    monkeypatch.setattr(CIFAR10DataModule, "url", archive.as_uri())
    data = CIFAR10DataModule(data_dir=str(tmp_path / "data"))
    with pytest.raises(DataError, match=f"MD5 {md5sum(archive)} is not the published"):
        data.prepare_data()
    assert list((tmp_path / "data").iterdir()) == []


def test_mnist_skips_a_mirror_whose_file_does_not_match_its_md5(tmp_path, monkeypatch):
    good = write_mnist(tmp_path / "good") / "MNIST" / "raw"
    bad = write_mnist(tmp_path / "bad", train=30) / "MNIST" / "raw"
    sums = {name: md5sum(good / f"{name}.gz") for name in MNISTDataModule.checksums}
    monkeypatch.setattr(MNISTDataModule, "checksums", sums)
    monkeypatch.setattr(MNISTDataModule, "mirrors", (f"{bad.as_uri()}/", f"{good.as_uri()}/"))
    data = MNISTDataModule(data_dir=str(tmp_path / "data"), val_fraction=0.25)
    data.prepare_data()
    train, val, _ = data.splits
    assert len(train) + len(val) == 40  # the good mirror's 40 images, not the bad one's 30


def test_mnist_download_with_no_matching_mirror_is_refused(tmp_path, monkeypatch):
    mirror = write_mnist(tmp_path / "mirror") / "MNIST" / "raw"
    monkeypatch.setattr(MNISTDataModule, "mirrors", (f"{mirror.as_uri()}/",))
    data = MNISTDataModule(data_dir=str(tmp_path / "data"))
    with pytest.raises(DataError, match="is not the published"):
        data.prepare_data()
    assert list((tmp_path / "data" / "MNIST" / "raw").iterdir()) == []


@pytest.mark.slow
def test_credentials_in_the_environment_and_overrides_are_masked(run_script, log_dir, monkeypatch):
    secrets = {
        "WANDB_API_KEY": "s3cr3t-key",
        "HF_TOKEN": "s3cr3t-token",
        "MLFLOW_TRACKING_PASSWORD": "s3cr3t-password",
        "mlflow_client_secret": "s3cr3t-lowercase",
    }
    for name, value in {**secrets, "OMP_NUM_THREADS": "1", "UNRELATED_VARIABLE": "x"}.items():
        monkeypatch.setenv(name, value)
    run_script("train.py", *SHORT_RUN, "logger=none", "+extras.db_password=s3cr3t-override")
    environment = (log_dir / "train" / "latest" / "environment.txt").read_text()
    assert "s3cr3t" not in environment, environment
    for name in secrets:
        assert f"  {name}=***\n" in environment, environment
    assert "  OMP_NUM_THREADS=1\n" in environment
    assert "UNRELATED_VARIABLE" not in environment
    assert "+extras.db_password=***" in environment
