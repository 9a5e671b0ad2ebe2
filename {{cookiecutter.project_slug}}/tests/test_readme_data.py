"""Every command of README's "Data" section trains, on files the test writes in its place."""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.pipelines.train import train

from .briefly import BRIEFLY
from .conftest import PROJECT
from .datafiles import (
    sines,
    write_cifar10,
    write_csv_series,
    write_image_folder,
    write_mnist,
    write_mocap,
    write_table,
)


def section(title: str) -> str:
    readme = (PROJECT / "README.md").read_text()
    return readme.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


COMMANDS = re.findall(r"^python train\.py .*$", section("Data"), flags=re.MULTILINE)


def write_user_data(data_dir: Path) -> None:
    """What the README's commands expect under ``data/``."""
    for index in range(3):
        write_mocap(data_dir / "mocap" / f"walk{index}.bvh", frames=600, seed=index)
    (data_dir / "imu").mkdir()
    for index in range(4):
        labels = ["sit"] * 40 + ["walk"] * 80
        write_csv_series(data_dir / "imu" / f"s{index}.csv", sines(120, 3, index), labels)
    write_mnist(data_dir)
    write_cifar10(data_dir)
    write_image_folder(data_dir / "photos")
    write_table(data_dir / "houses.csv", target="real", name="price")


def test_the_data_section_shows_every_dataset_and_tuning():
    shown = " ".join(COMMANDS)
    for option in ("sine", "sequence", "mnist", "cifar10", "image_folder", "csv"):
        assert f"data={option}" in shown
    assert "tune.batch_size=true tune.lr=true" in shown


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_data_command_trains(make_cfg, tmp_path, command):
    write_user_data(tmp_path / "data")
    overrides = [
        re.sub(r"^data\.path=data/", f"data.path={tmp_path}/data/", override)
        for override in shlex.split(command)[2:]
    ]
    if "tune.batch_size=true" in overrides:
        overrides += ["tune.max_trials=2", "tune.steps_per_trial=1"]
    extra = ["data.download=false"] if {"data=mnist", "data=cifar10"} & set(overrides) else []
    cfg = make_cfg([*overrides, f"paths.data_dir={tmp_path}/data", *extra, *BRIEFLY, "test=false"])
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])
