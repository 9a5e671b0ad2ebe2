"""Every model trains for real on the default data; checkpoints reload safely."""

import json
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
