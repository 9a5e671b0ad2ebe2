"""Every model of configs/model/ (a user's too) trains on every dataset it can read; other
pairs fail with one sentence."""

import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from {{ cookiecutter.package_name }}.models.shapes import IncompatibleInput, check_forward
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer

from .briefly import BRIEFLY, MODELS, task_or_refusal
from .datafiles import (
    write_cifar10,
    write_image_folder,
    write_mnist,
    write_series_folder,
    write_table,
)


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


DATA = ["digits", "sine", "sequence", "mnist", "cifar10", "image_folder", "csv"]
PAIRS = [(model, data) for model in MODELS for data in DATA]


# One short real epoch for each model x data pair that can work.
@pytest.mark.slow
@pytest.mark.parametrize(("model", "data"), PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_model_trains_on_every_data_it_reads(make_cfg, data_overrides, model, data):
    cfg = make_cfg([f"model={model}", *data_overrides[data], "data.batch_size=16", *BRIEFLY])
    datamodule = build_data(cfg.data)
    task = task_or_refusal(cfg, datamodule)
    if task is None:
        return
    trainer = build_trainer(cfg)
    trainer.fit(task, datamodule=datamodule)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert torch.isfinite(trainer.callback_metrics["val/loss"])


# What the README says each shipped model reads, so the matrix above cannot pass by a
# shipped model refusing data it should train on.
SHAPES = {"image": (1, 8, 8), "sequence": (16, 3), "table": (3,)}
READS = {
    "mlp": {"image", "sequence", "table"},
    **{model: {"image", "sequence"} for model in ("cnn", "lstm", "gru", "transformer")},
}


@pytest.mark.parametrize("model", READS)
def test_shipped_model_reads_what_the_readme_says(make_cfg, model):
    cfg = make_cfg([f"model={model}"])
    readable = set()
    for kind, shape in SHAPES.items():
        try:
            check_forward(instantiate(cfg.model, input_shape=shape, num_outputs=4), shape, 4)
        except (IncompatibleInput, InstantiationException):  # refused building, or running
            continue
        readable.add(kind)
    assert readable == READS[model]


@pytest.mark.slow
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
