"""tune.batch_size and tune.lr run Lightning's finders and the run trains with the result."""

import pytest
import torch
import yaml

from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
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


def test_the_batch_is_kept_when_a_larger_one_would_leave_too_few_steps(make_cfg):
    cfg = make_cfg(["tune.batch_size=true", *SHORT_RUN])
    datamodule = build_data(cfg.data)
    # 1,257 training images: batches of 64 make 20 steps an epoch, of 128 only 10.
    assert cfg.data.batch_size == 64 and cfg.tune.min_steps_per_epoch == 20
    assert tune(cfg, build_trainer(cfg), build_task(cfg, datamodule), datamodule) == {}
    assert datamodule.batch_size == 64


@pytest.mark.slow  # train.py as a user runs it: three fits (two finders and the run's)
def test_tuned_values_train_the_run_and_are_recorded_in_its_config_and_logs(
    run_script, make_cfg, log_dir
):
    defaults = make_cfg()
    briefly = (
        "trainer.limit_val_batches=2",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=null",
        "callbacks.plots=null",
        "test=false",
    )
    run_script(
        "train.py",
        "tune.batch_size=true",
        "tune.steps_per_trial=1",
        "data.batch_size=8",
        "tune.lr=true",
        "tune.num_training=15",
        "trainer.max_epochs=1",
        *briefly,
    )
    run = (log_dir / "train" / "latest").resolve()
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    # 8 doubles up to 64, the largest batch that still leaves 20 steps an epoch.
    assert hparams["data"]["batch_size"] == 64
    assert checkpoint["global_step"] >= defaults.tune.min_steps_per_epoch
    lr = hparams["optimizer"]["lr"]
    assert lr != pytest.approx(defaults.optimizer.lr)
    assert defaults.tune.min_lr <= lr <= defaults.tune.max_lr
    saved_lr = checkpoint["optimizer_states"][0]["param_groups"][0]["initial_lr"]
    assert saved_lr == pytest.approx(lr)
    # The run's config (what resume, eval and export read) and the CSV logger's hparams.
    for name in ("config.yaml", "config.resolved.yaml", "hparams.yaml"):
        recorded = yaml.safe_load((run / name).read_text())
        assert recorded["data"]["batch_size"] == 64, name
        assert recorded["optimizer"]["lr"] == pytest.approx(lr), name
    assert f"lr: {lr}" in (run / "config_tree.log").read_text()

    # Resumed, the run trains on with its tuned values instead of tuning again.
    resumed = run_script("train.py", "resume=latest", "trainer.max_epochs=2", *briefly)
    assert "tuned:" not in resumed.stdout
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert checkpoint["hyper_parameters"]["optimizer"]["lr"] == pytest.approx(lr)
    assert checkpoint["hyper_parameters"]["data"]["batch_size"] == 64
