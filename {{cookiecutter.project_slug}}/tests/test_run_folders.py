"""Run folders are claimed, not assumed: processes started together never share one, a run
that is still training is never written into by a second one, and ``latest`` only ever
names a run with a checkpoint."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from {{ cookiecutter.package_name }}.utils.errors import ConfigError
from {{ cookiecutter.package_name }}.utils.locks import LOCK, Holder, RunInUseError, run_lock
from {{ cookiecutter.package_name }}.utils.runs import (
    RunNotFoundError,
    find_run,
    new_run_dir,
    sweep_dir_resolver,
    unfinished_runs,
)

from .conftest import PROJECT, project_env, run_python

QUIET = ["trainer.enable_progress_bar=false", "callbacks.model_summary=null"]
SHORT = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.accelerator=cpu",
    *QUIET,
]
# Many short epochs and no early stop: a run that is still training while a test acts.
ENDLESS = [
    "trainer.max_epochs=1000",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.accelerator=cpu",
    "callbacks.early_stopping=null",
    "logger=none",
    "test=false",
    *QUIET,
]


def start(script: str, log_dir: Path, *overrides: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, script, *overrides, f"paths.log_dir={log_dir}"],
        cwd=PROJECT,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Each process imports what it needs before Hydra starts, then waits for one wall-clock
# instant: released together, the processes name their run folders within milliseconds of
# each other, as two runs started in the same second may.
AT_ONE_INSTANT = """
import runpy, sys, time
import {{ cookiecutter.package_name }}.utils.cli
from hydra.core.plugins import Plugins
Plugins.instance()
sys.argv = sys.argv[1:]
instant = float(sys.argv.pop(1))
time.sleep(max(0.0, instant - time.time()))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def start_together(*commands: tuple[str, ...], log_dir: Path) -> list[tuple[int, str]]:
    """Run the commands (``script, *overrides``) released at one instant; their exit codes
    and stderr."""
    logging_to = f"paths.log_dir={log_dir}"
    instant = math.ceil(time.time()) + 3.02  # early in a second, with every import done
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", AT_ONE_INSTANT, script, str(instant), *overrides, logging_to],
            cwd=PROJECT,
            env=project_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script, *overrides in commands
    ]
    results = []
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        results.append((process.returncode, stderr))
    return results


def wait_until(condition, process: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_folders(log_dir: Path, task_name: str = "train") -> list[Path]:
    runs = log_dir / task_name / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: the pid is free
    return process.pid


# --- claiming a folder -------------------------------------------------------------------


def test_processes_naming_a_folder_before_either_made_it_get_one_each(tmp_path):
    # Two processes started in the same second reach this point before Hydra makes the
    # folder: naming it must already claim it.
    first = new_run_dir(str(tmp_path), "train")
    second = new_run_dir(str(tmp_path), "train")
    assert first != second
    assert first.is_dir() and second.is_dir()
    assert second.name.startswith(first.name)


def test_two_sweeps_in_the_same_second_get_one_folder_each(tmp_path):
    first = sweep_dir_resolver(str(tmp_path), "train")
    second = sweep_dir_resolver(str(tmp_path), "train")
    assert first != second
    assert Path(first).parent == Path(second).parent == tmp_path / "train" / "multiruns"


def test_a_full_name_finds_its_run_beside_a_longer_one(tmp_path):
    runs = tmp_path / "train" / "runs"
    for name in ("2026-01-01_00-00-00", "2026-01-01_00-00-00_2"):
        (runs / name).mkdir(parents=True)
    assert find_run(str(tmp_path), "train", "2026-01-01_00-00-00") == (runs / "2026-01-01_00-00-00")


def trained_run(log_dir: Path, task_name: str, name: str, age: float) -> Path:
    """A run folder with a checkpoint that became ``latest`` of its task ``age`` s ago."""
    run = log_dir / task_name / "runs" / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.ckpt").write_bytes(b"")
    link = log_dir / task_name / "latest"
    link.symlink_to(Path("runs") / name)
    os.utime(link, (time.time() - age,) * 2, follow_symlinks=False)
    return run


def test_run_latest_is_the_newest_training_run_whatever_its_task_name(tmp_path):
    trained_run(tmp_path, "train", "2026-01-01_00-00-00", age=60)
    newest = trained_run(tmp_path, "digits_cnn", "2026-01-01_00-01-00", age=10)
    (tmp_path / "eval" / "runs" / "2026-01-01_00-02-00").mkdir(parents=True)  # no checkpoint
    (tmp_path / "eval" / "latest").symlink_to(Path("runs") / "2026-01-01_00-02-00")
    assert find_run(str(tmp_path), None, "latest") == newest
    assert find_run(str(tmp_path), None, "2026-01-01_00-01") == newest
    assert find_run(str(tmp_path), "train", "latest").name == "2026-01-01_00-00-00"
    with pytest.raises(RunNotFoundError, match=r"'2026-01-01_00' matches 2 runs \(digits_cnn/"):
        find_run(str(tmp_path), None, "2026-01-01_00")


@pytest.mark.slow
def test_eval_of_run_latest_takes_another_task_names_newer_run_and_says_so(run_script, log_dir):
    trained_run(log_dir, "train", "2000-01-01_00-00-00", age=3600)  # older, unreadable
    trained = run_script("train.py", *SHORT, "logger=none", "task_name=digits_cnn")
    assert "litlogger" not in trained.stdout + trained.stderr  # Lightning's advert, silenced
    newest = (log_dir / "digits_cnn" / "latest").resolve()
    evaluated = run_script("eval.py", "trainer.accelerator=cpu", "trainer.limit_test_batches=2")
    assert f"checkpoint: {newest / 'checkpoints' / 'best.ckpt'}\n" in evaluated.stdout


def test_a_later_rank_never_makes_a_folder_of_its_own(tmp_path, monkeypatch):
    for name in ("WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_STEP_NUM_TASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ConfigError, match="rank > 0"):
        new_run_dir(str(tmp_path), "train")
    assert not (tmp_path / "train" / "runs").exists() or not any(
        (tmp_path / "train" / "runs").iterdir()
    )


def test_printing_the_resolved_config_makes_no_folder(log_dir):
    printed = run_python("train.py", "--cfg", "all", "--resolve", f"paths.log_dir={log_dir}")
    assert printed.returncode == 0, printed.stderr
    assert f"dir: {log_dir}/train/runs/" in printed.stdout  # named...
    assert not log_dir.exists()  # ...not made


@pytest.mark.slow
def test_two_trainings_started_together_each_get_their_own_folder(log_dir):
    sizes = {1: 16, 2: 32}
    results = start_together(
        *(
            ("train.py", f"seed={seed}", f"model.hidden_sizes=[{size}]", "logger=csv", *SHORT)
            for seed, size in sizes.items()
        ),
        log_dir=log_dir,
    )
    for code, stderr in results:
        assert code == 0, stderr[-3000:]
    folders = run_folders(log_dir)
    assert len(folders) == 2
    seen = {}
    for folder in folders:
        config = yaml.safe_load((folder / "config.yaml").read_text())
        checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
        # The checkpoint is this folder's run: the model its own config built.
        assert checkpoint["hyper_parameters"]["model"]["hidden_sizes"] == [sizes[config["seed"]]]
        first_layer = next(v for k, v in checkpoint["state_dict"].items() if k.endswith("weight"))
        assert first_layer.shape[0] == sizes[config["seed"]]
        rows = (folder / "metrics.csv").read_text().splitlines()
        assert rows and all(row.count(",") == rows[0].count(",") for row in rows)
        seen[config["seed"]] = folder
    assert sorted(seen) == [1, 2]
    assert (log_dir / "train" / "latest").resolve() in {f.resolve() for f in folders}
    assert not list(log_dir.rglob(LOCK)), "a lock outlived its run"


@pytest.mark.slow
def test_two_evaluations_started_together_each_get_their_own_folder(run_script, log_dir):
    run_script("train.py", *SHORT)
    results = start_together(
        *(("eval.py", "run=latest", "trainer.accelerator=cpu", "trainer.limit_test_batches=2"),)
        * 2,
        log_dir=log_dir,
    )
    for code, stderr in results:
        assert code == 0, stderr[-3000:]
    folders = run_folders(log_dir, "eval")
    assert len(folders) == 2
    for folder in folders:
        assert "test/acc" in json.loads((folder / "metrics.json").read_text())


@pytest.mark.slow
def test_two_sweeps_started_together_each_get_their_own_folder(log_dir):
    results = start_together(
        *(("train.py", "-m", f"seed={seed}", *SHORT, "test=false") for seed in (1, 2)),
        log_dir=log_dir,
    )
    for code, stderr in results:
        assert code == 0, stderr[-3000:]
    sweeps = sorted((log_dir / "train" / "multiruns").iterdir())
    assert len(sweeps) == 2
    seeds = [yaml.safe_load((sweep / "0" / "config.yaml").read_text())["seed"] for sweep in sweeps]
    assert sorted(seeds) == [1, 2]
    assert all(sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0"] for sweep in sweeps)
    assert not run_folders(log_dir), "a sweep made a single run's folder too"


@pytest.mark.slow
def test_a_requeued_slurm_batch_job_trains_on_in_the_folder_its_first_start_made(
    log_dir, monkeypatch
):
    """``sbatch`` of a script that runs ``python train.py``: SLURM stops it (SIGTERM) and, when
    requeued, runs the same command again with SLURM_RESTART_COUNT=1."""
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    epochs = 40
    command = [*ENDLESS, f"trainer.max_epochs={epochs}", "seed=3"]
    first = start("train.py", log_dir, *command)
    wait_until(lambda: run_folders(log_dir), first)
    (run,) = run_folders(log_dir)
    last = run / "checkpoints" / "last.ckpt"
    wait_until(last.exists, first)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=120)
    stopped_at = torch.load(last, weights_only=True)["global_step"]
    assert 0 < stopped_at < 2 * epochs

    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    requeued = run_python("train.py", *command, f"paths.log_dir={log_dir}")
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    assert f"relaunched: continuing from {last}" in requeued.stderr
    assert run_folders(log_dir) == [run]
    assert torch.load(last, weights_only=True)["global_step"] == 2 * epochs

    # Another job's restart is no continuation of this run: a folder of its own.
    monkeypatch.setenv("SLURM_JOB_ID", "4243")
    other = run_python("train.py", *SHORT, f"paths.log_dir={log_dir}")
    assert other.returncode == 0, other.stderr[-3000:]
    assert len(run_folders(log_dir)) == 2


# --- one writer per folder ----------------------------------------------------------------


def test_a_lock_of_a_live_process_elsewhere_is_honoured(tmp_path):
    (tmp_path / LOCK).write_text(
        json.dumps({"pid": 1, "host": "another-host", "started": "2026-01-01T00:00:00"})
    )
    with pytest.raises(RunInUseError) as refused, run_lock(tmp_path):
        pass
    message = str(refused.value)
    assert "in use by pid 1 on host another-host" in message and "\n" not in message
    assert json.loads((tmp_path / LOCK).read_text())["host"] == "another-host"


def slurm_lock(folder: Path, monkeypatch: pytest.MonkeyPatch, held_by: str) -> dict:
    """A lock held on another node by SLURM job ``held_by``; this process: job 42, requeued once."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    lock = {"pid": 1, "host": "node-7", "started": "2026-01-01T00:00:00", "slurm_job": held_by}
    (folder / LOCK).write_text(json.dumps(lock))
    return lock


def test_a_requeued_slurm_job_takes_over_the_lock_of_its_earlier_run(tmp_path, monkeypatch, capsys):
    slurm_lock(tmp_path, monkeypatch, held_by="42:0")
    with run_lock(tmp_path):
        assert json.loads((tmp_path / LOCK).read_text())["slurm_job"] == "42:1"
    assert "note: taking over" in capsys.readouterr().err
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize(
    "held_by", ["42:1", "41:0"], ids=["another-step-of-this-run", "another-job"]
)
def test_a_slurm_job_honours_the_lock_of_another_live_job(tmp_path, monkeypatch, held_by):
    lock = slurm_lock(tmp_path, monkeypatch, held_by)
    with pytest.raises(RunInUseError, match="in use by pid 1 on host node-7"), run_lock(tmp_path):
        pass
    assert json.loads((tmp_path / LOCK).read_text()) == lock


def test_a_lock_is_released_however_its_run_ends(tmp_path):
    with pytest.raises(KeyboardInterrupt), run_lock(tmp_path):
        holder = Holder(**json.loads((tmp_path / LOCK).read_text()))
        assert holder.pid == os.getpid()
        raise KeyboardInterrupt
    assert not (tmp_path / LOCK).exists()


@pytest.mark.slow
def test_resuming_a_run_that_is_still_training_is_refused(log_dir):
    training = start("train.py", log_dir, *ENDLESS)
    try:
        latest = log_dir / "train" / "latest"
        wait_until(lambda: (latest / "checkpoints" / "last.ckpt").is_file(), training)
        run_dir = latest.resolve()
        assert json.loads((run_dir / LOCK).read_text())["pid"] == training.pid

        second = run_python("train.py", "resume=latest", f"paths.log_dir={log_dir}")
        assert second.returncode == 2, second.stderr[-3000:]
        errors = [line for line in second.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, second.stderr[-3000:]
        assert f"is in use by pid {training.pid} on host {socket.gethostname()}" in errors[0]
        assert "Traceback" not in second.stderr
        assert training.poll() is None, "the first run must go on"
    finally:
        training.send_signal(signal.SIGTERM)
        training.communicate(timeout=120)
    assert not (run_dir / LOCK).exists(), "an interrupted run must release its lock"


@pytest.mark.slow
def test_the_lock_of_a_dead_process_is_taken_over(run_script, log_dir):
    run_script("train.py", *SHORT, "logger=none")
    (run_dir,) = run_folders(log_dir)
    pid = dead_pid()
    (run_dir / LOCK).write_text(
        json.dumps({"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00"})
    )
    resumed = run_script("train.py", "resume=latest", "trainer.max_epochs=2")
    assert f"taking over {run_dir / LOCK}: pid {pid}" in resumed.stderr
    assert not (run_dir / LOCK).exists()
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1


# --- latest -------------------------------------------------------------------------------


@pytest.mark.slow
def test_latest_never_names_a_run_without_a_checkpoint(run_script, log_dir):
    run_script("train.py", *SHORT, "logger=none")
    latest = log_dir / "train" / "latest"
    (finished,) = run_folders(log_dir)
    assert latest.resolve() == finished.resolve()

    # Killed after writing its config, before its first checkpoint.
    # A first epoch of a thousand steps: seconds to kill it in.
    killed = start(
        "train.py", log_dir, *ENDLESS, "data.batch_size=1", "trainer.limit_train_batches=1.0"
    )
    wait_until(
        lambda: any((f / "config.yaml").is_file() for f in run_folders(log_dir) if f != finished),
        killed,
    )
    killed.kill()
    killed.communicate()
    (stopped,) = [f for f in run_folders(log_dir) if f != finished]
    assert not (stopped / "checkpoints" / "last.ckpt").exists()
    assert latest.resolve() == finished.resolve()

    # The next run says how to remove the leftover (once it is old enough not to be a run
    # that is still starting).
    an_hour_ago = time.time() - 3600
    os.utime(stopped, (an_hour_ago, an_hour_ago))
    assert unfinished_runs(str(log_dir), "train", finished) == [stopped]
    resumed = run_script("train.py", "resume=latest", "trainer.max_epochs=2")
    notes = [
        line for line in resumed.stderr.splitlines() if "before their first checkpoint" in line
    ]
    assert len(notes) == 1 and f"rm -r {stopped}" in notes[0], resumed.stderr[-3000:]
    assert latest.resolve() == finished.resolve()
    assert stopped.is_dir(), "a user's folder is never deleted unasked"


@pytest.mark.slow
def test_a_run_folder_given_on_the_command_line_is_used(run_script, log_dir, tmp_path):
    folder = tmp_path / "fixed"
    run_script("train.py", f"hydra.run.dir={folder}", *SHORT)
    assert (folder / "checkpoints" / "best.ckpt").is_file()
    assert (log_dir / "train" / "latest").resolve() == folder.resolve()
    assert not run_folders(log_dir)
    run_script("eval.py", "run=latest", "trainer.accelerator=cpu", "trainer.limit_test_batches=2")
    assert "test/acc" in json.loads((log_dir / "eval" / "latest" / "metrics.json").read_text())
