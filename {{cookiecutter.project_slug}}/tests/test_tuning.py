"""tune.batch_size and tune.lr run Lightning's finders and the run trains with the result."""

from pathlib import Path

import pytest
import torch

from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.pipelines.tuning import tune

from .conftest import SHORT_RUN


def test_nothing_is_tuned_by_default(make_cfg):
    cfg = make_cfg(SHORT_RUN)
    datamodule = build_data(cfg.data)
    assert tune(cfg, build_trainer(cfg), build_task(cfg, datamodule), datamodule) == {}
    assert datamodule.batch_size == cfg.data.batch_size


def test_batch_size_finder_doubles_until_its_trials_are_spent(make_cfg):
    cfg = make_cfg(
        [
            "tune.batch_size=true",
            "tune.max_trials=2",
            "tune.steps_per_trial=1",
            "data.batch_size=16",
            *SHORT_RUN,
        ]
    )
    datamodule = build_data(cfg.data)
    task = build_task(cfg, datamodule)
    tuned = tune(cfg, build_trainer(cfg), task, datamodule)
    # Memory never runs out on this CPU: the second trial doubles 16 and the budget is spent.
    assert tuned == {"batch_size": 32}
    assert datamodule.batch_size == 32
    assert next(iter(datamodule.train_dataloader()))[0].shape[0] == 32
    assert task.hparams.data["batch_size"] == 32


def test_tuned_values_are_used_for_training_and_saved(make_cfg):
    cfg = make_cfg(
        [
            "tune.batch_size=true",
            "tune.max_trials=2",
            "tune.steps_per_trial=1",
            "tune.lr=true",
            "tune.num_training=15",
            "data.batch_size=16",
            *SHORT_RUN,
            # The range test needs num_training steps within max_epochs.
            "trainer.limit_train_batches=20",
            "test=false",
        ]
    )
    train(cfg)
    checkpoint = torch.load(
        Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True
    )
    hparams = checkpoint["hyper_parameters"]
    assert hparams["data"]["batch_size"] == 32
    assert hparams["optimizer"]["lr"] != pytest.approx(cfg.optimizer.lr)
    assert cfg.tune.min_lr <= hparams["optimizer"]["lr"] <= cfg.tune.max_lr
    saved_lr = checkpoint["optimizer_states"][0]["param_groups"][0]["initial_lr"]
    assert saved_lr == pytest.approx(hparams["optimizer"]["lr"])
