"""``python runs.py``: the README's commands list, filter, sort and compare real runs."""

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
from matplotlib.image import imread

from {{ cookiecutter.package_name }}.utils.locks import LOCK, Holder

from .conftest import PROJECT, SHORT_RUN

SECTION = re.search(
    r"^### Compare runs\n\n```bash\n(.*?)^```", (PROJECT / "README.md").read_text(), re.M | re.S
)
assert SECTION, "README.md has no 'Compare runs' section with a bash block"
# The README's commands, comments cut: the test runs exactly these.
COMMANDS = [line.split(" #")[0].strip() for line in SECTION[1].splitlines()]
LIST, FILTER, SORT, COMPARE = COMMANDS
# metrics.csv, which compare draws the curves from, whatever the project's default logger.
CURVES = "logger=csv"


def rows(output: str) -> list[list[str]]:
    """The cells of a rich table's body rows."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


@pytest.mark.slow
def test_runs_lists_filters_sorts_and_compares_trained_runs(run_script, log_dir):
    run_script("train.py", *SHORT_RUN, CURVES)
    run_script("train.py", *SHORT_RUN, CURVES, "model=cnn")
    mlp, cnn = sorted((log_dir / "train" / "runs").iterdir())

    def runs(command: str, check: bool = True) -> str:
        result = run_script(*shlex.split(command)[1:], check=check)
        return result.stdout + result.stderr

    listed = rows(runs(LIST))
    assert [row[:5] for row in listed] == [
        [cnn.name, "train", "cnn", "digits", "finished"],
        [mlp.name, "train", "mlp", "digits", "finished"],
    ], "newest first"
    assert [row[0] for row in rows(runs(FILTER))] == [cnn.name]

    losses = {
        run.name: json.loads((run / "metrics.json").read_text())["val/loss"] for run in (mlp, cnn)
    }
    output = runs(SORT)
    assert [row[0] for row in rows(output)] == sorted(losses, key=losses.get)

    output = runs(COMPARE.replace("<timestamp>", mlp.name))
    assert "model._target_" in output and "trainer.max_epochs" not in output
    assert re.search(r"val/loss\s*│\s*[\d.]+\s*│\s*[\d.]+", output), output
    png = Path(output.split("learning curves: ")[1].split()[0])
    assert png.is_file() and imread(png).shape[:2] == (320, 1200)  # loss, acc and f1 panels

    result = run_script("runs.py", "compare", "latest", "2000-01-01", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no run folder or timestamp '2000-01-01'")
    assert len(result.stderr.strip().splitlines()) == 1


def fake_run(folder: Path, *files: str, age: float = 0.0, **texts: str) -> None:
    """A run folder holding ``files`` (empty) and ``texts`` (``metrics_json=`` for
    metrics.json), last changed ``age`` seconds ago: what a run leaves, without training."""
    folder.mkdir(parents=True)
    contents = {name: "{}" for name in ("train.log", *files)}
    contents |= {name.replace("_", "."): text for name, text in texts.items()}
    for name, text in contents.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    os.utime(folder, (time.time() - age,) * 2)


def test_runs_tells_each_status_and_lists_sweep_jobs(run_script, log_dir):
    runs = log_dir / "train" / "runs"
    fake_run(runs / "2026-01-01_00-00-00", "checkpoints/last.ckpt")
    fake_run(runs / "2026-01-02_00-00-00", age=3600)
    fake_run(runs / "2026-01-03_00-00-00")
    (runs / "2026-01-03_00-00-00" / LOCK).write_text(json.dumps(Holder.me()._asdict()))
    fake_run(runs / "2026-01-04_00-00-00", "metrics.json")
    job = log_dir / "other" / "multiruns" / "2026-01-05_00-00-00" / "0"
    fake_run(job, "metrics.json")

    listed = rows(run_script("runs.py").stdout)
    assert [(row[0], row[1], row[4]) for row in listed] == [
        (str(job), "other", "finished"),
        ("2026-01-04_00-00-00", "train", "finished"),
        ("2026-01-03_00-00-00", "train", "running"),
        ("2026-01-02_00-00-00", "train", "failed"),
        ("2026-01-01_00-00-00", "train", "interrupted"),
    ]
    assert [row[0] for row in rows(run_script("runs.py", "status=failed").stdout)] == [
        "2026-01-02_00-00-00"
    ]
    result = run_script("runs.py", "sort=val/nothing", check=False)
    assert result.returncode == 2 and result.stderr.startswith("error: no run has the metric")


def test_search_trials_are_listed_in_order_and_compared_by_their_sweep(run_script, log_dir):
    searches = log_dir / "train" / "multiruns"
    for sweep in ("2026-01-01_00-00-00", "2026-01-02_00-00-00"):
        for trial in ("trial_2", "trial_10"):
            fake_run(
                searches / sweep / trial,
                "metrics.json",
                config_yaml=f"seed: {len(trial)}\n",
                metrics_csv="epoch,train/loss,val/loss\n0,1.0,0.9\n",
            )
    listed = [row[0] for row in rows(run_script("runs.py").stdout)]
    assert listed == [
        str(searches / sweep / trial)
        for sweep in ("2026-01-02_00-00-00", "2026-01-01_00-00-00")
        for trial in ("trial_10", "trial_2")
    ]
    first, second = (
        searches / sweep / "trial_2" for sweep in ("2026-01-01_00-00-00", "2026-01-02_00-00-00")
    )
    output = run_script("runs.py", "compare", str(first), str(second)).stdout
    assert "2026-01-01_00-00-00/trial_2" in output and "2026-01-02_00-00-00/trial_2" in output
    # Named after both sweeps, so trial_2 of two searches never overwrite each other's PNG.
    png = "2026-01-01_00-00-00_trial_2_vs_2026-01-02_00-00-00_trial_2.png"
    assert (log_dir / "compare" / png).is_file()


def test_compare_shows_what_differs_and_draws_both_runs_curves(run_script, log_dir):
    for day, dropout, loss in ((1, 0.1, 0.5), (2, 0.2, 0.4)):
        fake_run(
            log_dir / "train" / "runs" / f"2026-01-0{day}_00-00-00",
            "checkpoints/best.ckpt",
            config_yaml=f"model:\n  dropout: {dropout}\n  width: 8\n",
            metrics_json=json.dumps({"val/loss": loss}),
            metrics_csv=f"epoch,train/loss,val/loss\n0,1.0,\n0,,0.9\n1,0.7,{loss}\n",
        )
    output = run_script("runs.py", "compare", "2026-01-01", "2026-01-02").stdout
    assert [row for row in rows(output) if row[0].startswith("model.")] == [
        ["model.dropout", "0.1", "0.2"]
    ]
    assert ["val/loss", "0.5000", "0.4000"] in rows(output)
    png = Path(output.split("learning curves: ")[1].split()[0])
    assert imread(png).shape[:2] == (320, 400)  # one panel: loss
