"""Runs you can trust: resume, reproducibility, predict and export match the experiment."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig
from sklearn.datasets import load_digits

from {{ cookiecutter.package_name }}.pipelines.build import build_data
from {{ cookiecutter.package_name }}.pipelines.export import export
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task
from {{ cookiecutter.package_name }}.utils.errors import ConfigError

from .briefly import MODELS, task_or_refusal
from .conftest import SHORT_RUN

# A schedule that does not depend on max_epochs, so 1 + 1 epochs equal 2 epochs.
EXACT = [
    "seed=7",
    "trainer.deterministic=true",
    "scheduler=step",
    "trainer.limit_train_batches=5",
    "trainer.limit_val_batches=2",
]
# metrics.csv (logger=csv) shows the resumed run's history, whatever the project's default.
QUIET = [
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "callbacks.plots=null",
    "logger=csv",
]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_same_weights(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def run_in(cfg: DictConfig) -> Path:
    """Train ``cfg`` and return its run folder. Read it here: ``paths.output_dir`` resolves
    through the current Hydra config, which the next ``make_cfg`` replaces."""
    run_dir = Path(cfg.paths.output_dir)
    train(cfg)
    return run_dir


def test_resume_latest_equals_an_uninterrupted_run(make_cfg, log_dir):
    straight = run_in(make_cfg([*EXACT, *QUIET, "trainer.max_epochs=2", "test=false"]))
    run_dir = run_in(make_cfg([*EXACT, *QUIET, "trainer.max_epochs=1", "test=false"]))
    resumed = run_in(make_cfg(["resume=latest", "trainer.max_epochs=2"]))

    assert straight != run_dir
    assert resumed == run_dir, "resume must continue in the same folder"
    hparams = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)[
        "hyper_parameters"
    ]
    assert hparams["scheduler"]["scheduler"]["_target_"].endswith("StepLR"), "not the run's config"
    assert_same_weights(weights(straight), weights(run_dir))
    epochs = {line.split(",")[0] for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]}
    assert {"0", "1"} <= epochs, "the resumed run keeps its metrics history"


def test_resume_says_which_new_values_the_restored_optimizer_and_schedule_ignore(make_cfg):
    short = [*QUIET, "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", "test=false"]
    train(make_cfg([*short, "scheduler=cosine", "optimizer.lr=0.001", "trainer.max_epochs=2"]))
    resumed = make_cfg(["resume=latest", "trainer.max_epochs=4", "optimizer.lr=0.01"])
    with pytest.warns(
        UserWarning, match=r"new plan \(optimizer.lr 0.001 -> 0.01, scheduler.T_max 2 -> 4\)"
    ):
        train(resumed)


def test_resume_past_the_end_of_a_one_cycle_schedule_is_refused(make_cfg):
    short = [*QUIET, "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", "test=false"]
    first = make_cfg([*short, "scheduler=onecycle", "trainer.max_epochs=2"])
    train(first)
    last = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    saved = last.read_bytes()
    with pytest.raises(ConfigError, match=r"OneCycleLR plans 6 steps .* this run needs 12"):
        train(make_cfg(["resume=latest", "trainer.max_epochs=4"]))
    assert last.read_bytes() == saved


def test_same_seed_gives_identical_metrics_and_weights(make_cfg):
    """Seed 0 on purpose: a falsy seed must seed too."""
    first_cfg = make_cfg([*EXACT, *QUIET, "trainer.max_epochs=2", "seed=0"])
    first, first_metrics = Path(first_cfg.paths.output_dir), train(first_cfg)
    second_cfg = make_cfg([*EXACT, *QUIET, "trainer.max_epochs=2", "seed=0"])
    second, second_metrics = Path(second_cfg.paths.output_dir), train(second_cfg)
    assert first != second
    assert first_metrics == second_metrics
    assert_same_weights(weights(first), weights(second))


def test_different_seeds_differ(make_cfg):
    first = train(make_cfg([*EXACT, *QUIET, "trainer.max_epochs=1", "seed=0", "test=false"]))
    second = train(make_cfg([*EXACT, *QUIET, "trainer.max_epochs=1", "seed=1", "test=false"]))
    assert first["train/loss"] != second["train/loss"]


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_export_matches_the_checkpoint(make_cfg, model):
    trained = make_cfg([f"model={model}", *SHORT_RUN])
    if task_or_refusal(trained, build_data(trained.data)) is None:
        return  # a model for other data than the default, which it refused in one line
    train(trained)
    run_dir = Path(trained.paths.output_dir)
    for fmt, file in (("onnx", "model.onnx"), ("torchscript", "model.pt")):
        path = export(make_cfg([f"format={fmt}"], config_name="export"))
        assert path == run_dir / "export" / file
        assert path.stat().st_size > 0
    exports = json.loads((run_dir / "export" / "model.json").read_text())["exports"]
    assert set(exports) == {"onnx", "torchscript"}
    assert all(entry["max_abs_difference"] <= 1e-5 for entry in exports.values())
    assert (run_dir / "export" / "preprocess.json").is_file()
    assert (run_dir / "export" / "config.yaml").is_file()


@pytest.mark.slow
def test_predict_cli_equals_trainer_predict(make_cfg, run_script, log_dir, tmp_path):
    import lightning as L
    from torch.utils.data import DataLoader

    cfg = make_cfg(SHORT_RUN)
    train(cfg)
    raw = tmp_path / "digits.npy"
    np.save(raw, load_digits().images[:50])
    run_script("predict.py", "run=latest", f"input={raw}", "device=cpu", "batch_size=16")
    predicted = np.load(log_dir / "predict" / "latest" / "predictions.npy")

    task = load_task(Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt")
    from {{ cookiecutter.package_name }}.data.image_preprocessing import DigitsPreprocessing

    inputs = DigitsPreprocessing().encode()(torch.from_numpy(np.load(raw)).float().unsqueeze(1))
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    expected = torch.cat(trainer.predict(task, dataloaders=DataLoader(inputs, batch_size=50)))
    assert predicted.shape == (50, 10)
    np.testing.assert_allclose(predicted, expected.numpy(), rtol=0, atol=1e-6)
    rows = (log_dir / "predict" / "latest" / "predictions.csv").read_text().splitlines()
    assert rows[0].startswith("source,row,predicted,0,1")
    assert len(rows) == 51
