"""The SLURM launcher config: jobs sized from the trainer, Lightning's requeue left to submitit;
and, where this machine can run a one-node cluster (root, slurm-wlm or apt-get), real jobs
on it: a multirun, and jobs requeued mid-training that end as an uninterrupted one."""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.pipelines.train import resolve_run, train
from {{ cookiecutter.package_name }}.utils.errors import ConfigError

from .conftest import CONFIGS, PROJECT, SHORT_RUN, project_env, run_python

SIZED = ["launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
PRINT_RESOLVED = ["--cfg", "all", "--resolve"]


@pytest.fixture
def slurm_cfg():
    def make(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            return compose("train", overrides=[*SIZED, *overrides], return_hydra_config=True)

    yield make
    GlobalHydra.instance().clear()


def test_jobs_get_one_task_and_one_gpu_per_device(slurm_cfg):
    cfg = slurm_cfg()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert cfg.hydra.mode.name == "MULTIRUN"


def test_lightning_leaves_requeueing_to_submitit(slurm_cfg):
    (environment,) = instantiate(slurm_cfg().trainer.plugins)
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue is False


def test_the_readme_command_composes():
    result = run_python(
        "train.py", *SIZED, "hydra.launcher.partition=gpu", *PRINT_RESOLVED, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tasks_per_node: 4" in result.stdout
    assert "partition: gpu" in result.stdout
    assert "SlurmLauncher" in result.stdout


def test_a_requeued_job_resumes_from_its_folder_whatever_groups_it_chose(
    make_cfg, monkeypatch, capsys
):
    """SLURM starts a requeued job with the same command line, into the same folder."""
    job = [*SHORT_RUN, "trainer=cpu"]
    cfg = make_cfg(job)
    run_dir = Path(cfg.paths.output_dir)
    train(cfg)
    # By hand, resume= keeps the run's groups and refuses a command line that changes one.
    with pytest.raises(ConfigError, match="changes the config group 'trainer'"):
        resolve_run(make_cfg([*job, f"resume={run_dir}"]))
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    cfg, folder, resume_from = resolve_run(make_cfg([*job, f"hydra.run.dir={run_dir}"]))
    assert (folder, resume_from) == (run_dir, run_dir / "checkpoints" / "last.ckpt")
    assert cfg.trainer.accelerator == "cpu"
    assert f"relaunched: continuing from {resume_from}" in capsys.readouterr().err


# The README's commands on a real cluster: scripts/local_slurm.sh starts one on this machine.
LOCAL_SLURM = PROJECT / "scripts" / "local_slurm.sh"
# A CPU job on the local node, which has as few as 2 CPUs: one each for 2 jobs at a time.
SUBMIT = ("train.py", "-m", "launcher=slurm", "trainer=cpu", "hydra.launcher.cpus_per_task=1")
UP = "bash scripts/local_slurm.sh up"
EXPORT = "export SLURM_CONF=/tmp/local-slurm/slurm.conf"
TWO_JOBS = ("seed=1,2",)
MULTIRUN = shlex.join(["python", *SUBMIT, *TWO_JOBS])
QUEUE = "squeue"
REQUEUE = "scontrol requeue <job id>"
SEARCH_OVERRIDES = ("hparams_search=optuna", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=8")
SEARCH = shlex.join(["python", *SUBMIT, *SEARCH_OVERRIDES])
DOWN = "bash scripts/local_slurm.sh down"
# tests/test_readme.py leaves these to this file, which runs them on the local cluster.
README_COMMANDS = (UP, EXPORT, MULTIRUN, QUEUE, REQUEUE, SEARCH, DOWN)
# Bit-identical runs (as tests/test_interrupts.py), 150 steps an epoch: long enough for a
# job to be requeued in the middle of one.
EXACT = (
    "trainer.deterministic=true",
    "scheduler=step",
    "data.num_workers=0",
    "test=false",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "callbacks.early_stopping=null",
    "callbacks.plots=null",
    "data.batch_size=4",
    "trainer.limit_train_batches=150",
    "trainer.limit_val_batches=5",
    "trainer.max_epochs=3",
)
STEPS = 3 * 150


def cannot_run_slurm() -> str | None:
    """Why this machine cannot start the local cluster, or None when it can."""
    if os.geteuid() != 0:
        return "the local SLURM cluster (scripts/local_slurm.sh) needs root"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "slurm-wlm is not installed and there is no apt-get to install it"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The environment of a shell where ``local_slurm.sh up`` ran and its export line was
    typed; the cluster is stopped (and checked gone) after the module's tests."""
    if reason := cannot_run_slurm():
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("local-slurm")
    # Ports of its own: another cluster (a user's, or another test run) may be up.
    env = {
        **project_env(),
        "LOCAL_SLURM_DIR": str(state),
        "LOCAL_SLURM_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
    }

    def local_slurm(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            shlex.split(line),
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    up = local_slurm(UP)
    if "apt-get install slurm-wlm munge failed" in up.stderr:
        pytest.skip("slurm-wlm is not installed and apt-get could not install it")
    assert up.returncode == 0, up.stdout + up.stderr
    export = up.stdout.strip().splitlines()[-1]
    assert export == EXPORT.replace("/tmp/local-slurm", str(state)), up.stdout
    env["SLURM_CONF"] = export.partition("=")[2]
    pids = {path.stem: int(path.read_text()) for path in state.glob("*.pid")}
    assert set(pids) == {"munged", "slurmctld", "slurmd"}
    try:
        yield env
    finally:
        down = local_slurm(DOWN)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not list(state.glob("*.pid"))
        for name, pid in pids.items():
            assert not Path(f"/proc/{pid}").exists(), f"{name} ({pid}) still runs"


def submit(env: dict[str, str], log_dir: Path, *overrides: str) -> subprocess.Popen:
    """``python train.py -m launcher=slurm ...``, as typed in the shell ``cluster`` set up;
    Hydra lets the last of two values of a key win."""
    return subprocess.Popen(
        [sys.executable, *SUBMIT, *overrides, f"paths.log_dir={log_dir}"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-5000:]
    return output


def only_sweep(log_dir: Path) -> Path:
    (sweep,) = (log_dir / "train" / "multiruns").iterdir()
    return sweep


@pytest.mark.slow
def test_a_two_job_multirun_runs_as_slurm_jobs(cluster, log_dir):
    output = finish(submit(cluster, log_dir, *TWO_JOBS, *SHORT_RUN))
    sweep = only_sweep(log_dir)
    assert f"SLURM jobs' output: {sweep}/.submitit/%j/%j_<task>_log.out" in output
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [".submitit", "0", "1"]
    for job in ("0", "1"):
        run = sweep / job
        for name in ("config.yaml", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
            assert (run / name).is_file(), f"{run} has no {name}"
        assert (run / "metrics.json").is_file() and (run / "metrics.csv").is_file()
    logs = list((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2, logs


def wait_for(found: Callable[[], list[str]], process: subprocess.Popen) -> list[str]:
    """What ``found`` finds, once it finds anything, while ``process`` runs."""
    deadline = time.monotonic() + 300
    while not (items := found()):
        assert process.poll() is None, process.communicate()[0][-5000:]
        assert time.monotonic() < deadline, "nothing found after 300 s"
        time.sleep(0.05)
    return items


def slurm(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        args, env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def weights(run: Path) -> tuple[int, dict[str, torch.Tensor]]:
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return saved["global_step"], saved["state_dict"]


@pytest.mark.slow
def test_requeued_jobs_resume_in_their_folders_to_the_uninterrupted_weights(cluster, log_dir):
    """Job 0 is requeued as an admin (or preemption) does; job 1 gets the signal SLURM sends
    before a time limit, on which submitit requeues it. Both continue from their last.ckpt."""
    process = submit(cluster, log_dir, *EXACT, "seed=7,7")
    sweeps = log_dir / "train" / "multiruns"
    interrupt = {"0": ("scontrol", "requeue"), "1": ("scancel", "--signal=USR2")}
    while interrupt:
        # Each job as soon as it has a checkpoint: the two may run far apart.
        for job in wait_for(
            lambda: [j for j in interrupt if any(sweeps.glob(f"*/{j}/checkpoints/last.ckpt"))],
            process,
        ):
            # submitit's folder of the job: <array job id>_<job number>, the id SLURM takes.
            (slurm_id,) = {p.name for p in sweeps.glob(f"*/.submitit/*_{job}") if p.is_dir()}
            assert slurm_id in slurm(cluster, QUEUE)
            slurm(cluster, *interrupt.pop(job), slurm_id)
    finish(process)
    sweep = only_sweep(log_dir)
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [".submitit", "0", "1"]

    reference = log_dir / "reference"
    result = run_python("train.py", *EXACT, "seed=7", f"paths.log_dir={reference}")
    assert result.returncode == 0, result.stderr[-3000:]
    steps, expected = weights(reference / "train" / "latest")
    assert steps == STEPS
    for job, signal_name in (("0", "SIGTERM"), ("1", "SIGUSR2")):
        (log,) = (sweep / ".submitit").glob(f"*_{job}/*_log.err")
        text = log.read_text()
        stopped = re.search(rf"stopped by {signal_name}\b.* at epoch \d+, step (\d+)", text)
        assert stopped and 0 < int(stopped[1]) < STEPS, text[-3000:]
        assert f"relaunched: continuing from {sweep / job}/checkpoints/last.ckpt" in text
        steps, resumed = weights(sweep / job)
        assert steps == STEPS
        for name, tensor in expected.items():
            assert torch.equal(resumed[name], tensor), f"job {job}: {name} differs"


@pytest.mark.slow
def test_an_optuna_search_runs_trials_as_parallel_jobs_and_continues_its_study(cluster, log_dir):
    search = (*SEARCH_OVERRIDES, "hydra.sweeper.n_trials=2", *SHORT_RUN)
    assert "(new)" in finish(submit(cluster, log_dir, *search))
    assert "continues after its 2 trials" in finish(submit(cluster, log_dir, *search))
    (study,) = optuna.get_all_study_summaries(f"sqlite:///{log_dir}/train/optuna.db")
    assert study.n_trials == 4
    sweeps = sorted((log_dir / "train" / "multiruns").iterdir())
    trials = [sorted(p.name for p in sweep.glob("trial_*")) for sweep in sweeps]
    assert trials == [["trial_0", "trial_1"], ["trial_2", "trial_3"]]
    for sweep in sweeps:
        # submitit's <array job id>_<task> folders: both trials of a batch, one array job.
        tasks = sorted(p.name for p in (sweep / ".submitit").glob("*_*") if p.is_dir())
        assert len(tasks) == 2 and len({task.split("_")[0] for task in tasks}) == 1, tasks


def test_the_readme_shows_the_commands_run_here():
    shown = [
        line.split(" #")[0].strip() for line in (PROJECT / "README.md").read_text().splitlines()
    ]
    assert not [line for line in README_COMMANDS if line not in shown]
