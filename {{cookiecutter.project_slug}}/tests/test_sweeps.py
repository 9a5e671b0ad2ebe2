"""Multiruns: a plain sweep over models, and an Optuna search that resumes and survives
a failing trial; each ends with a summary of its jobs' overrides and metrics."""

import csv
import json
import textwrap
from pathlib import Path

import pytest

from .conftest import SHORT_RUN

# Two training batches a trial: the search's machinery is under test, not the models.
TINY = (*SHORT_RUN, "trainer.limit_train_batches=2", "test=false")


def study(log_dir, name="train-mlp-digits-adamw"):
    import optuna  # a second to import: paid by the slow tests that read a study, not by all

    return optuna.load_study(study_name=name, storage=f"sqlite:///{log_dir}/train/optuna.db")


def trials(log_dir, name="train-mlp-digits-adamw"):
    return study(log_dir, name).trials


def summary_rows(sweep):
    with (sweep / "multirun_summary.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_a_2x2_grid_gives_every_job_its_own_folder_and_ends_with_a_summary(run_script, log_dir):
    result = run_script("train.py", "-m", "model=mlp,cnn", "optimizer.lr=0.001,0.003", *TINY)
    (sweep,) = (log_dir / "train" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [job.name for job in jobs] == ["0", "1", "2", "3"]
    grid = [("mlp", "0.001"), ("mlp", "0.003"), ("cnn", "0.001"), ("cnn", "0.003")]
    for job, (model, lr) in zip(jobs, grid, strict=True):
        assert (job / "checkpoints" / "best.ckpt").is_file()
        config = (job / "config.yaml").read_text()
        assert f"models.{model}.{model.upper()}" in config and f"lr: {lr}" in config
    # One row per job: the overrides that differ between them, and the job's metrics.
    rows = summary_rows(sweep)
    assert [(row["job"], row["model"], row["optimizer.lr"], row["status"]) for row in rows] == [
        (str(i), model, lr, "completed") for i, (model, lr) in enumerate(grid)
    ]
    assert list(rows[0]) == [
        "job",
        "model",
        "optimizer.lr",
        "status",
        "val/acc",
        "val/f1",
        "val/loss",
    ]
    for job, row in zip(jobs, rows, strict=True):
        metrics = json.loads((job / "metrics.json").read_text())
        assert float(row["val/loss"]) == metrics["val/loss"]
    printed = " ".join(result.stdout.split())
    assert "multirun: 4 jobs" in printed
    # The printed table cuts no value, however narrow the terminal.
    assert all(f"{float(row['val/loss']):.4f}" in printed for row in rows)
    assert f"summary: {sweep / 'multirun_summary.csv'}" in printed


@pytest.mark.slow
def test_optuna_search_resumes_and_records_a_failed_trial(run_script, log_dir):
    first = run_script("train.py", "hparams_search=optuna", "hydra.sweeper.n_trials=2", *TINY)
    assert "A new study created" in first.stdout + first.stderr
    assert [t.state.name for t in trials(log_dir)] == ["COMPLETE"] * 2

    # The same command again continues the study. Its first job gets data.batch_size=0,
    # which the DataLoader refuses: that trial fails and the search goes on.
    second = run_script(
        "train.py",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "data.batch_size=${hydra:job.num}",
        *TINY,
    )
    assert "Using an existing study" in second.stdout + second.stderr
    states = [t.state.name for t in trials(log_dir)]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert all(t.value is not None for t in trials(log_dir) if t.state.name == "COMPLETE")
    searches = sorted((log_dir / "train" / "multiruns").iterdir())
    assert len(searches) == 2
    assert all((search / "optimization_results.yaml").is_file() for search in searches)
    # The search ends with its trials' summary, the failed one included.
    rows = summary_rows(searches[1])
    assert [(row["job"], row["status"]) for row in rows] == [
        ("trial_2", "failed"),
        ("trial_3", "completed"),
    ]
    assert rows[0]["val/loss"] == "" and float(rows[1]["val/loss"]) > 0
    # The columns are the values the search sampled; what every trial shares is left out.
    assert list(rows[0])[1:5] == [
        "trial",
        "optimizer.lr",
        "optimizer.weight_decay",
        "model.dropout",
    ]
    assert float(rows[1]["optimizer.lr"]) == trials(log_dir)[-1].params["optimizer.lr"]
    assert "multirun: 2 jobs" in second.stdout


NO_DROPOUT = """
from torch import nn


class Linear(nn.Module):
    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, x):
        return self.net(x)
"""


@pytest.mark.slow
def test_optuna_searches_only_the_keys_the_model_has(run_script, log_dir, tmp_path, monkeypatch):
    """A user's model without dropout: the search leaves model.dropout out, in one line."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "no_dropout.py").write_text(textwrap.dedent(NO_DROPOUT))
    (tmp_path / "configs" / "model").mkdir(parents=True)
    (tmp_path / "configs" / "model" / "linear.yaml").write_text("_target_: no_dropout.Linear\n")
    monkeypatch.syspath_prepend(str(tmp_path / "models"))  # the subprocess imports it
    result = run_script(
        "train.py",
        "hparams_search=optuna",
        "model=linear",
        f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
        "hydra.sweeper.n_trials=1",
        *TINY,
    )
    assert "note: model.dropout is not searched: model linear has no dropout" in result.stderr
    (trial,) = trials(log_dir, "train-linear-digits-adamw")
    assert trial.state.name == "COMPLETE"
    assert set(trial.params) == {"optimizer.lr", "optimizer.weight_decay", "data.batch_size"}


@pytest.mark.slow
def test_searches_of_two_models_keep_their_own_studies_and_name_their_best_run(run_script, log_dir):
    search = ("hparams_search=optuna", "hydra.sweeper.n_trials=2", *TINY)
    mlp = run_script("train.py", *search, "model=mlp")
    cnn = run_script("train.py", *search, "model=cnn")
    for result, model in ((mlp, "mlp"), (cnn, "cnn")):
        name = f"train-{model}-digits-adamw"
        assert f"Optuna study {name} (new) in sqlite:///" in result.stdout
        searched = study(log_dir, name)
        assert [t.state.name for t in searched.trials] == ["COMPLETE"] * 2
        best = searched.best_trial
        folder = Path(best.user_attrs["run_dir"])
        assert folder.name == f"trial_{best.number}"
        assert f"best trial {best.number} of study {name} (value {best.value:.4f}): {folder}" in (
            " ".join(result.stdout.split())
        )
        assert f"models.{model}." in (folder / "config.yaml").read_text()
        assert json.loads((folder / "metrics.json").read_text())["val/loss"] == best.value
        assert json.loads((folder / "trial.json").read_text()) == {
            "study": name,
            "trial": best.number,
        }

    # The same search again continues its study, says so, and numbers its trials on.
    again = run_script("train.py", *search, "model=mlp")
    assert "train-mlp-digits-adamw in sqlite:///" in again.stdout
    assert "continues after its 2 trials" in " ".join(again.stdout.split())
    latest = max((log_dir / "train" / "multiruns").iterdir())
    assert [(row["job"], row["trial"]) for row in summary_rows(latest)] == [
        ("trial_2", "2"),
        ("trial_3", "3"),
    ]
    assert len(trials(log_dir)) == 4 and len(trials(log_dir, "train-cnn-digits-adamw")) == 2
