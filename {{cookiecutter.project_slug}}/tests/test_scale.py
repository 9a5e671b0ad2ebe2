"""Many processes, one run: DDP on CPU processes, torchrun, and the folder all ranks share."""

import json
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.pipelines.train import record_run, resolve_run
from {{ cookiecutter.package_name }}.utils.errors import ConfigError
from {{ cookiecutter.package_name }}.utils.runs import new_run_dir

from .conftest import SHORT_RUN, run_python

LAUNCHER_VARIABLES = (
    "WORLD_SIZE",
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_STEP_NUM_TASKS",
    "TORCHELASTIC_RESTART_COUNT",
    "SLURM_RESTART_COUNT",
)


@pytest.mark.slow
def test_ddp_sim_writes_one_run_folder_and_tests_on_gathered_results(run_script, log_dir):
    run_script("train.py", "trainer=ddp_sim", *SHORT_RUN)
    assert sorted(p.name for p in log_dir.iterdir()) == ["train"]
    (run,) = (log_dir / "train" / "runs").iterdir()
    assert (log_dir / "train" / "latest").resolve() == run.resolve()
    assert not (run / "run.lock").exists(), "the first process released the run's lock"
    # Lightning started rank 1 into this very folder (its Hydra log is here).
    assert (run / "train_ddp_process_1.log").is_file()
    trained = json.loads((run / "metrics.json").read_text())

    # Each process tested half of the batches with data.batch_size / 2; gathered, they are
    # exactly the batches one process sees, so a single-process eval gives the same figures.
    run_script("eval.py", "run=latest", "trainer.accelerator=cpu", "trainer.limit_test_batches=2")
    evaluated = json.loads((log_dir / "eval" / "latest" / "metrics.json").read_text())
    for name in ("test/acc", "test/f1", "test/loss"):
        assert evaluated[name] == pytest.approx(trained[name], abs=1e-5), name
    # test_predictions.csv interleaves the processes' shares back into the test order.
    tables = [
        np.loadtxt(folder / "test_predictions.csv", delimiter=",", skiprows=1, usecols=range(1, 13))
        for folder in (run, log_dir / "eval" / "latest")
    ]
    assert tables[0].shape == (128, 12)
    np.testing.assert_allclose(tables[0], tables[1], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_torchrun_processes_share_one_run_folder(log_dir):
    """The README's torchrun command, on one machine with two CPU processes."""
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=localhost:0",
        "--rdzv-id=test-job",
        "train.py",
        "trainer=ddp_sim",
        *SHORT_RUN,
        f"paths.log_dir={log_dir}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = sorted(p.name for p in (log_dir / "train" / "runs").iterdir())
    assert runs == ["job-test-job"]
    assert "test/acc" in json.loads((log_dir / "train" / "latest" / "metrics.json").read_text())


@pytest.fixture
def launcher_env(monkeypatch):
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_env(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.mark.parametrize(
    ("variables", "folder"),
    [
        ({"WORLD_SIZE": "16", "TORCHELASTIC_RUN_ID": "abc"}, "job-abc"),
        ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_JOB_ID": "42", "SLURM_STEP_ID": "3"}, "job-42.3"),
        (
            {
                "WORLD_SIZE": "16",
                "TORCHELASTIC_RUN_ID": "abc",
                "SLURM_STEP_NUM_TASKS": "2",
                "SLURM_JOB_ID": "42",
                "SLURM_STEP_ID": "0",
            },
            "job-abc",
        ),
    ],
    ids=["torchrun", "srun", "srun-torchrun"],
)
def test_processes_a_launcher_started_agree_on_one_folder(
    launcher_env, tmp_path, variables, folder
):
    launcher_env(**variables)
    first = new_run_dir(str(tmp_path), "train")
    assert first.is_dir()
    # A process that looks after the first one made the folder still picks it.
    assert new_run_dir(str(tmp_path), "train") == first == tmp_path / "train" / "runs" / folder


def test_a_single_process_gets_a_new_folder_every_time(launcher_env, tmp_path):
    launcher_env(SLURM_JOB_ID="42")  # a SLURM allocation, but one process
    first = new_run_dir(str(tmp_path), "train")
    second = new_run_dir(str(tmp_path), "train")
    assert second != first
    assert second.parent == first.parent == tmp_path / "train" / "runs"


def test_processes_without_a_shared_id_are_refused(launcher_env, tmp_path):
    launcher_env(WORLD_SIZE="2", TORCHELASTIC_RUN_ID="none")
    with pytest.raises(ConfigError, match="torchrun --standalone"):
        new_run_dir(str(tmp_path), "train")


def test_a_launch_reusing_an_earlier_launchs_id_is_refused(launcher_env, tmp_path):
    launcher_env(WORLD_SIZE="2", TORCHELASTIC_RUN_ID="abc")
    folder = new_run_dir(str(tmp_path), "train")
    (folder / "config.yaml").write_text("{}\n")  # what the earlier launch's first process wrote
    with pytest.raises(ConfigError, match="an id of its own"):
        new_run_dir(str(tmp_path), "train")
    launcher_env(TORCHELASTIC_RESTART_COUNT="1")  # torchrun restarted that very launch
    assert new_run_dir(str(tmp_path), "train") == folder


def test_only_rank_zero_writes_into_the_run_folder(make_cfg, log_dir, monkeypatch):
    cfg = make_cfg(SHORT_RUN)
    run_dir = Path(cfg.paths.output_dir)
    monkeypatch.setenv("LOCAL_RANK", "1")
    record_run(*resolve_run(cfg))
    assert list(run_dir.iterdir()) == []
    assert not (log_dir / "train" / "latest").exists()
