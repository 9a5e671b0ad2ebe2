"""Interrupted runs keep their newest state, and resume through the CLI to the very weights
and learning curves of an uninterrupted run: each command a process of its own, as a user
runs them."""

import csv
import errno
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from .conftest import PROJECT, project_env

# Real trainings in subprocesses, signalled and killed: minutes, not seconds.
pytestmark = pytest.mark.slow

EXACT = [
    "seed=7",
    "trainer.deterministic=true",
    "scheduler=step",
    "data.num_workers=0",
    "logger=csv",
    "test=false",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "callbacks.early_stopping=null",
]
# 150 optimizer steps an epoch: long enough to be signalled in the middle of one.
LONG = [
    *EXACT,
    "data.batch_size=4",
    "trainer.limit_train_batches=150",
    "trainer.limit_val_batches=5",
]
STEPS_PER_EPOCH = 150


def train(log_dir: Path, *overrides: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "train.py", *overrides, f"paths.log_dir={log_dir}"],
        cwd=PROJECT,
        env=env or project_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def start(log_dir: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "train.py", *overrides, f"paths.log_dir={log_dir}"],
        cwd=PROJECT,
        env=env or project_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(found: Callable[[], bool], process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def checkpoint(run: Path, name: str = "last") -> dict:
    return torch.load(run / "checkpoints" / f"{name}.ckpt", weights_only=True)


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = checkpoint(first)["state_dict"], checkpoint(second)["state_dict"]
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs by {(a[name] - b[name]).abs().max()}"


def rows(run: Path, column: str) -> dict[str, str]:
    """One value of ``column`` per epoch; fails on an epoch logged twice."""
    with (run / "metrics.csv").open(newline="") as file:
        logged = [(row["epoch"], row[column]) for row in csv.DictReader(file) if row[column]]
    epochs = [epoch for epoch, _ in logged]
    assert len(epochs) == len(set(epochs)), f"{column} logged twice for an epoch: {epochs}"
    return dict(logged)


def test_three_cli_processes_resume_to_the_weights_and_curves_of_one_run(log_dir):
    quick = [*EXACT, "trainer.limit_train_batches=5", "trainer.limit_val_batches=2"]
    train(log_dir, *quick, "trainer.max_epochs=4", "task_name=straight")
    train(log_dir, *quick, "trainer.max_epochs=2", "task_name=resumed")
    train(log_dir, "resume=latest", "task_name=resumed", "trainer.max_epochs=4")

    straight, resumed = log_dir / "straight" / "latest", log_dir / "resumed" / "latest"
    assert checkpoint(resumed)["global_step"] == checkpoint(straight)["global_step"] == 20
    assert_same_weights(straight, resumed)
    for column in ("train/loss", "val/loss", "val/acc"):
        assert rows(resumed, column) == rows(straight, column)
    assert list(rows(resumed, "val/loss")) == ["0", "1", "2", "3"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    log_dir = tmp_path_factory.mktemp("uninterrupted")
    train(log_dir, *LONG, "trainer.max_epochs=3")
    return log_dir / "train" / "latest"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(
    log_dir, uninterrupted, signum
):
    process = start(log_dir, *LONG, "trainer.max_epochs=3")
    run = log_dir / "train" / "latest"
    wait_for(lambda: (run / "checkpoints" / "last.ckpt").exists(), process)
    time.sleep(0.25)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    step = checkpoint(run)["global_step"]
    assert 0 < step < 3 * STEPS_PER_EPOCH, "interrupted too late to test anything"
    if signum == signal.SIGTERM:
        assert process.returncode == 143, stderr[-3000:]
        assert f"Continue with: python train.py resume={run.resolve()}" in stderr
        assert step % STEPS_PER_EPOCH, "SIGTERM saves the step it stopped at, mid-epoch"
    else:
        assert process.returncode == -signal.SIGKILL
        with (run / "metrics.csv").open("a") as file:
            file.write("1,,")  # a row the kill cut short

    train(log_dir, "resume=latest")
    assert checkpoint(run)["global_step"] == 3 * STEPS_PER_EPOCH
    assert_same_weights(uninterrupted, run)
    # Validation sees the same weights, so the same values; every epoch exactly once.
    assert rows(run, "val/loss") == rows(uninterrupted, "val/loss")
    assert list(rows(run, "train/loss")) == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_while_testing_leaves_the_checkpoints_as_fitting_left_them(
    log_dir, tmp_path, monkeypatch, signum, code
):
    # A model whose evaluation is slow enough to be signalled while it tests.
    (tmp_path / "slow_eval.py").write_text(
        textwrap.dedent(
            """
            import math
            import time

            from torch import nn


            class SlowEval(nn.Module):
                def __init__(self, input_shape, num_outputs, **_):
                    super().__init__()
                    self.linear = nn.Linear(math.prod(input_shape), num_outputs)

                def forward(self, x):
                    if not self.training:
                        time.sleep(0.3)
                    return self.linear(x.flatten(1))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # project_env passes sys.path on
    process = start(
        log_dir,
        *EXACT,
        "test=true",
        "model._target_=slow_eval.SlowEval",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=1",
        "trainer.num_sanity_val_steps=0",
        # About 45 test batches of 0.3 s: the signal lands while testing even on a busy machine.
        "data.batch_size=8",
    )
    run = log_dir / "train" / "latest"
    log = run / "train.log"
    wait_for(lambda: log.exists() and "Loaded model weights" in log.read_text(), process)
    fitted = (run / "checkpoints" / "last.ckpt").read_bytes()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == code, stderr[-3000:]
    name = signal.Signals(signum).name
    assert (
        f"stopped by {name} while testing; the run is fully trained and its checkpoints are "
        f"kept. Test it with: python eval.py run={run.resolve()}"
    ) in stderr
    assert "Traceback" not in stderr
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == fitted


# Without root a small filesystem cannot be mounted; then torch.save itself fails as a full
# disk would, from the moment the test creates the marker file.
FULL_DISK = """
import errno
import os

import torch

_save = torch.save


def save(*args, **kwargs):
    if os.path.exists({marker!r}):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _save(*args, **kwargs)


torch.save = save
"""


@pytest.fixture
def small_disk(tmp_path) -> Iterator[tuple[Path, dict[str, str], Callable[[], None]]]:
    """A log folder on a 32 MB tmpfs (or a simulated one), its env, and a function that
    fills the disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], capture_output=True
    )
    env = project_env()
    if mounted.returncode == 0:

        def fill() -> None:
            with (disk / "filler").open("wb") as file:
                chunk = b"\0" * 2**20
                try:
                    while True:
                        file.write(chunk)
                        file.flush()
                except OSError as error:
                    assert error.errno == errno.ENOSPC
    else:
        marker = tmp_path / "full"
        (tmp_path / "sitecustomize.py").write_text(FULL_DISK.format(marker=str(marker)))
        env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"

        def fill() -> None:
            marker.touch()

    yield disk / "logs", env, fill
    if mounted.returncode == 0:
        subprocess.run(["umount", "-l", str(disk)], check=True)
    else:
        shutil.rmtree(disk)


def test_full_disk_ends_in_one_line_and_resumes_from_the_last_good_checkpoint(small_disk):
    log_dir, env, fill = small_disk
    process = start(log_dir, *LONG, "trainer.max_epochs=3", env=env)
    run = log_dir / "train" / "latest"
    wait_for(lambda: (run / "checkpoints" / "last.ckpt").exists(), process)
    fill()
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: no space left on device writing {run.resolve()}/")
    assert last_line.endswith(
        f"the last good checkpoint {run.resolve()}/checkpoints/last.ckpt is kept; free space "
        f"and resume with: python train.py resume={run.resolve()}"
    ), last_line
    assert checkpoint(run)["global_step"] == STEPS_PER_EPOCH
    assert not list(run.rglob(".*.tmp-*")), "no partial file is left"

    (log_dir.parent / "filler").unlink(missing_ok=True)
    (log_dir.parent.parent / "full").unlink(missing_ok=True)
    train(log_dir, "resume=latest", env=env)
    assert list(rows(run, "val/loss")) == ["0", "1", "2"]
    assert list(rows(run, "train/loss")) == ["0", "1", "2"]


def test_a_new_run_removes_the_partial_writes_of_killed_runs(log_dir):
    quick = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", *EXACT]
    train(log_dir, *quick)
    killed = (log_dir / "train" / "latest").resolve()
    leftovers = [killed / "checkpoints" / ".last.ckpt.tmp-99999", killed / ".metrics.csv.tmp-99999"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a file")
    train(log_dir, *quick)
    assert not any(leftover.exists() for leftover in leftovers)
    assert (killed / "checkpoints" / "last.ckpt").is_file()
