"""Every model trains on every dataset it can read; other pairs fail with one sentence."""

import pytest
import torch

from {{ cookiecutter.package_name }}.models.shapes import IncompatibleInput
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task

from .briefly import BRIEFLY, fit_briefly
from .datafiles import (
    write_cifar10,
    write_image_folder,
    write_mnist,
    write_series_folder,
    write_table,
)

# One short real epoch for each of 31 model x data pairs.
pytestmark = pytest.mark.slow


MODELS = ["mlp", "cnn", "lstm", "gru", "transformer"]


@pytest.fixture(scope="module")
def data_overrides(tmp_path_factory) -> dict[str, list[str]]:
    """Overrides that point each dataset at tiny files in its own on-disk format."""
    root = tmp_path_factory.mktemp("data")
    return {
        "digits": ["data=digits"],
        "sine": ["data=sine", "data.num_series=6", "data.num_steps=120"],
        "sequence": ["data=sequence", f"data.path={write_series_folder(root / 'csv', 'csv')}"],
        "mnist": ["data=mnist", f"data.data_dir={write_mnist(root)}", "data.download=false"],
        "cifar10": ["data=cifar10", f"data.data_dir={write_cifar10(root)}", "data.download=false"],
        "image_folder": [
            "data=image_folder",
            f"data.path={write_image_folder(root / 'images')}",
            "data.image_size=16",
        ],
        "csv": ["data=csv", f"data.path={write_table(root / 'table.csv')}"],
    }


IMAGES_AND_SEQUENCES = ["digits", "sine", "sequence", "mnist", "cifar10", "image_folder"]
PAIRS = [(model, data) for model in MODELS for data in IMAGES_AND_SEQUENCES] + [("mlp", "csv")]


@pytest.mark.parametrize(("model", "data"), PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_model_trains_on_data(make_cfg, data_overrides, model, data):
    cfg = make_cfg([f"model={model}", *data_overrides[data], "data.batch_size=16", *BRIEFLY])
    metrics = fit_briefly(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
    assert torch.isfinite(torch.tensor(metrics["val/loss"]))


@pytest.mark.parametrize("model", ["cnn", "lstm", "gru", "transformer"])
def test_incompatible_pair_fails_with_one_sentence(make_cfg, data_overrides, model):
    cfg = make_cfg([f"model={model}", *data_overrides["csv"]])
    datamodule = build_data(cfg.data)
    with pytest.raises(IncompatibleInput) as error:
        build_task(cfg, datamodule)
    assert str(error.value) == (
        f"model {model} cannot read data csv: it needs images (C, H, W) or sequences (T, F), "
        "got (3,)"
    )
