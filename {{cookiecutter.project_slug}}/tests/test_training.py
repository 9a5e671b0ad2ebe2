"""Every model trains for real on the default data; checkpoints reload safely."""

import csv
import json
import re
from pathlib import Path

import pytest
import torch

from {{ cookiecutter.package_name }}.pipelines.build import build_data
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task

from .briefly import MODELS, task_or_refusal
from .conftest import PLOTTED_RUN, SHORT_RUN


@pytest.mark.parametrize("model", MODELS)
def test_model_trains_and_checkpoint_reloads(make_cfg, model):
    cfg = make_cfg([f"model={model}", *SHORT_RUN])
    if task_or_refusal(cfg, build_data(cfg.data)) is None:
        return  # a model for other data than the default, which it refused in one line
    metrics = train(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))

    run_dir = Path(cfg.paths.output_dir)
    for name in ("best.ckpt", "last.ckpt"):
        checkpoint = torch.load(run_dir / "checkpoints" / name, weights_only=True)
        assert checkpoint["hyper_parameters"]["model"]["_target_"] == cfg.model._target_
    task = load_task(run_dir / "checkpoints" / "best.ckpt").eval()
    batch = torch.randn(3, 1, 8, 8)
    assert task(batch).shape == (3, 10)


def test_run_folder_holds_config_checkpoints_and_metrics(make_cfg, log_dir):
    cfg = make_cfg(PLOTTED_RUN)
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert run_dir.parent == log_dir / "train" / "runs"
    assert (log_dir / "train" / "latest").resolve() == run_dir.resolve()
    for name in (
        "config.yaml",
        "config.resolved.yaml",
        "metrics.json",
        "requirements.txt",
        "plots/learning_curves.png",
    ):
        assert (run_dir / name).is_file(), name
    assert "test/acc" in json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_default_training_reaches_high_accuracy(make_cfg):
    """The default command, unshortened: what `python train.py` promises."""
    metrics = train(make_cfg(["trainer.enable_progress_bar=false", "callbacks.model_summary=null"]))
    assert metrics["test/acc"] >= 0.95


def test_eval_reproduces_the_test_metrics(make_cfg, run_script, log_dir):
    trained = train(make_cfg([*SHORT_RUN, "trainer.limit_test_batches=null"]))
    run_script("eval.py", "run=latest", "trainer.accelerator=cpu")
    evaluated = json.loads((log_dir / "eval" / "latest" / "metrics.json").read_text())
    for name in ("test/acc", "test/f1", "test/loss"):
        assert evaluated[name] == pytest.approx(trained[name], abs=1e-6), name


def test_the_reported_metrics_are_the_best_checkpoints_not_the_last_epochs(run_script, log_dir):
    # mode=max makes the first epoch's (highest) val/loss the best: the last epoch surely
    # is not, so what the run reports tells the two apart.
    epochs = ("trainer.max_epochs=3", "trainer.limit_train_batches=8")
    result = run_script(
        "train.py", *SHORT_RUN, *epochs, "callbacks.model_checkpoint.mode=max", "logger=csv"
    )
    run = log_dir / "train" / "latest"
    with (run / "metrics.csv").open(newline="") as file:
        logged = [row for row in csv.DictReader(file) if row["val/loss"]]
    per_epoch = {int(row["epoch"]): float(row["val/loss"]) for row in logged}
    best_epoch = max(per_epoch, key=per_epoch.__getitem__)
    assert best_epoch != max(per_epoch), per_epoch
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_epoch"] == best_epoch
    assert metrics["val/loss"] == pytest.approx(per_epoch[best_epoch], rel=1e-6)
    assert metrics["last_epoch/val/loss"] == pytest.approx(per_epoch[max(per_epoch)], rel=1e-6)
    assert re.search(rf"val/loss\s+│\s+{metrics['val/loss']:.4f}", result.stdout), result.stdout
    assert f"(epoch {best_epoch}: val/ and test/ are its metrics" in result.stdout
    # test/* are the best checkpoint's: eval.py re-tests it to the same numbers.
    run_script("eval.py", "run=latest", "trainer.accelerator=cpu", "trainer.limit_test_batches=2")
    evaluated = json.loads((log_dir / "eval" / "latest" / "metrics.json").read_text())
    assert evaluated["test/loss"] == pytest.approx(metrics["test/loss"], abs=1e-6)
