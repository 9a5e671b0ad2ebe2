"""Faults lose nothing: signals, a killed process, NaN losses and bad input."""

import csv
import datetime
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from {{ cookiecutter.package_name }}.utils.checkpoints import AtomicCheckpointIO

from .conftest import run_python

# Real trainings in subprocesses, signalled and killed: minutes, not seconds.
pytestmark = pytest.mark.slow


QUIET = ["trainer.enable_progress_bar=false", "callbacks.model_summary=null", "test=false"]


def run(log_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(*args, f"paths.log_dir={log_dir}")


def test_checkpoint_write_failing_midway_keeps_the_previous_file(tmp_path):
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO(tmp_path)
    io.save_checkpoint({"step": torch.tensor(1)}, target)
    with pytest.raises(Exception, match="pickle"):
        io.save_checkpoint({"step": torch.tensor(2), "broken": lambda: None}, target)
    assert torch.load(target, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


EXPLODING_MODEL = """
import math
import os

import torch
from torch import nn


class Exploding(nn.Module):
    '''Returns NaN from its {after}th training forward pass on (in process `rank` only,
    if given): a diverging run.'''

    def __init__(self, input_shape, num_outputs, rank=None, **_):
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_outputs)
        self.calls = 0
        self.rank = rank

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.linear(x.flatten(1))
        here = self.rank is None or int(os.environ.get("LOCAL_RANK", "0")) == self.rank
        return out * float("nan") if self.training and here and self.calls >= {after} else out
"""


def explode_after(calls, tmp_path, monkeypatch):
    (tmp_path / "exploding.py").write_text(EXPLODING_MODEL.format(after=calls))
    # run_script's subprocess imports from this process's sys.path.
    monkeypatch.syspath_prepend(str(tmp_path))
    return [
        "model._target_=exploding.Exploding",
        "trainer.limit_train_batches=10",
        "trainer.max_epochs=4",
        "callbacks.early_stopping=null",
        *QUIET,
    ]


@pytest.fixture
def exploding_model(tmp_path, monkeypatch):
    return explode_after(25, tmp_path, monkeypatch)


# The NaN starts at step 24 (epoch 2 is steps 20-29). The summed loss is checked every
# log_every_n_steps (10) steps and before validating, here also mid-epoch after step 24.
@pytest.mark.parametrize(
    ("validate_every", "steps"), [(1.0, "steps 20-29"), (5, "steps 20-24")], ids=["epoch", "mid"]
)
def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(
    run_script, log_dir, exploding_model, validate_every, steps
):
    result = run_script(
        "train.py", *exploding_model, f"trainer.val_check_interval={validate_every}", check=False
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: train/loss is nan in {steps} (epoch 2)"), result.stderr
    assert "Traceback" not in result.stderr
    checkpoint = torch.load(
        log_dir / "train" / "latest" / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert checkpoint["global_step"] == 20
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())


def test_nan_loss_can_skip_bad_batches(run_script, log_dir, exploding_model):
    result = run_script("train.py", *exploding_model, "nonfinite_loss=skip")
    assert "skipped the batch: train/loss is nan" in result.stderr
    checkpoint = torch.load(
        log_dir / "train" / "latest" / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())
    # The skipped batches stay out of the epoch means too.
    with (log_dir / "train" / "latest" / "metrics.csv").open(newline="") as file:
        losses = [float(row["train/loss"]) for row in csv.DictReader(file) if row["train/loss"]]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses), losses


@pytest.mark.slow
def test_nan_loss_in_one_ddp_process_stops_every_process(run_script, tmp_path, monkeypatch):
    # Process 0 diverges at step 9, the step before the check; process 1 would only see the
    # NaN weights a step later. Both must stop there with one line, none wait for the other.
    overrides = explode_after(10, tmp_path, monkeypatch)
    result = run_script("train.py", *overrides, "trainer=ddp_sim", "+model.rank=0", check=False)
    assert result.returncode != 0
    assert "error: train/loss is nan in steps 0-9 (epoch 0)" in result.stderr, result.stderr
    assert (
        "error: train/loss is non-finite in another process in steps 0-9 (epoch 0)" in result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def earlier_runs(tmp_path_factory):
    """One finished MLP run (the one bad input must not touch) and a CNN checkpoint."""
    log_dir = tmp_path_factory.mktemp("earlier") / "logs"
    short = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", *QUIET]
    for model in ("cnn", "mlp"):
        result = run(log_dir, "train.py", f"model={model}", *short)
        assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted((log_dir / "train" / "runs").iterdir())
    return log_dir, runs[0], runs[1]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def bad_inputs(log_dir: Path, cnn_run: Path, mlp_run: Path, tmp: Path) -> dict[str, tuple]:
    truncated = tmp / "inputs.npy"
    truncated.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, ")
    garbage = tmp / "garbage.ckpt"
    garbage.write_bytes(os.urandom(2048))
    pickled = tmp / "pickled.ckpt"
    torch.save({"state_dict": {}, "created": datetime.datetime.now()}, pickled)
    not_a_folder = tmp / "a_file"
    not_a_folder.write_text("")
    mixed = log_dir / "train" / "runs" / "mixed"
    if not mixed.exists():
        shutil.copytree(mlp_run, mixed)
        shutil.copy(cnn_run / "checkpoints" / "last.ckpt", mixed / "checkpoints" / "last.ckpt")
    return {
        "unknown option": (
            ["train.py", "model=nope"],
            "no config 'model/nope'; available in 'model': cnn",
        ),
        "unknown key": (
            ["train.py", "trainer.max_epoch=3"],
            "unknown config key 'trainer.max_epoch'; did you mean trainer.max_epochs?",
        ),
        "wrong type": (
            ["train.py", "trainer.max_epochs=abc"],
            "trainer.max_epochs='abc' must be an integer",
        ),
        "missing data path": (["predict.py", f"input={tmp / 'nope.npy'}"], "does not exist"),
        "corrupt data file": (["predict.py", f"input={truncated}"], "is not a readable .npy file"),
        "checkpoint of another model": (
            ["train.py", f"resume={mixed}"],
            "is a checkpoint of another model",
        ),
        "corrupt checkpoint": (["eval.py", f"ckpt_path={garbage}"], "is not a readable checkpoint"),
        "checkpoint with code": (
            ["eval.py", f"ckpt_path={pickled}"],
            "holds objects other than tensors",
        ),
        "missing data folder": (
            ["train.py", "data=sequence", f"data.path={tmp / 'nope'}"],
            f"data.path={tmp / 'nope'} does not exist",
        ),
        "resume to nothing": (
            ["train.py", "resume=1999-01-01"],
            "no run folder or timestamp '1999-01-01'",
        ),
        "unwritable run folder": (
            ["train.py", f"paths.log_dir={not_a_folder}/logs"],
            "cannot write",
        ),
    }


CASES = [
    "unknown option",
    "unknown key",
    "wrong type",
    "missing data path",
    "corrupt data file",
    "checkpoint of another model",
    "corrupt checkpoint",
    "checkpoint with code",
    "missing data folder",
    "resume to nothing",
    "unwritable run folder",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_in_one_line_and_touches_no_earlier_run(earlier_runs, tmp_path, case):
    log_dir, cnn_run, mlp_run = earlier_runs
    args, message = bad_inputs(log_dir, cnn_run, mlp_run, tmp_path)[case]
    before = snapshot(log_dir)
    latest = (log_dir / "train" / "latest").resolve()
    result = run(log_dir, *args) if "paths.log_dir" not in args[-1] else run_python(*args)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert snapshot(log_dir) == before, "an earlier run folder was modified"
    assert (log_dir / "train" / "latest").resolve() == latest
