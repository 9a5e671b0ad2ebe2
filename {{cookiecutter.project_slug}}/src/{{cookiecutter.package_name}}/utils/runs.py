"""Run folders: ``logs/<task_name>/runs/<timestamp>/`` and the ``latest`` link beside them."""

import os
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from .config import CONFIG
from .errors import CheckpointError, ConfigError, UserError
from .locks import is_locked
from .provenance import ENVIRONMENT
from .ranks import is_rank_zero

if TYPE_CHECKING:  # torch and Lightning load only once the run is found
    import torch

    from ..data.base import DataModule
    from ..pipelines.inference import Predictor
    from ..tasks import Task

RUNS = "runs"
MULTIRUNS = "multiruns"
LATEST = "latest"
STAMP = "%Y-%m-%d_%H-%M-%S"
BEST_CHECKPOINT = "checkpoints/best.ckpt"
LAST_CHECKPOINT = "checkpoints/last.ckpt"
METRICS = "metrics.json"
# How long a new run may take from making its folder to locking it (imports, config).
STARTUP_SECONDS = 60
# Hydra's flags that print (the config, help) and run nothing.
PRINT_ONLY = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help")


class RunNotFoundError(UserError):
    pass


def shared_job_id() -> str | None:
    """The id all processes of one torchrun or srun launch share; None for a single process.

    Those launchers start every process themselves, so each process names the run folder on
    its own, from the job id, and all agree without talking to each other. Lightning's own
    launcher (``trainer=ddp``) needs none: it hands its folder to the processes it starts.
    """
    env = os.environ
    world_size = int(env.get("WORLD_SIZE", "1"))
    torchrun_id = env.get("TORCHELASTIC_RUN_ID", "none")
    if world_size > 1 and torchrun_id != "none":
        return torchrun_id
    # srun sets SLURM_STEP_NUM_TASKS for the processes it starts (not in a bare allocation).
    if int(env.get("SLURM_STEP_NUM_TASKS", "1")) > 1:
        return f"{env['SLURM_JOB_ID']}.{env['SLURM_STEP_ID']}"
    if world_size > 1:
        raise ConfigError(
            f"{world_size} processes were started without a shared run id, so they cannot agree "
            "on one run folder: give torchrun --standalone (one machine) or --rdzv-id=<job id>"
        )
    return None


def relaunched() -> bool:
    """torchrun restarted its failed processes, or SLURM requeued the job: the same launch,
    whose run folder is already there."""
    counts = ("TORCHELASTIC_RESTART_COUNT", "SLURM_RESTART_COUNT")
    return any(int(os.environ.get(name, "0")) > 0 for name in counts)


def only_printing() -> bool:
    """``--cfg all --resolve`` resolves the run and sweep folders to print them: they are
    named then, not made (Hydra tells the resolvers nothing of its mode)."""
    return any(arg in PRINT_ONLY or arg.startswith(("--cfg=", "--info=")) for arg in sys.argv[1:])


def make_folder(folder: Path, exist_ok: bool) -> None:
    if only_printing():
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(exist_ok=exist_ok)
    except FileExistsError:
        if folder.is_dir():
            raise
        raise ConfigError(
            f"cannot write {folder}: a file is in the way; point paths.log_dir at a writable folder"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"cannot write {error.filename or folder}: {error.strerror}; point paths.log_dir "
            "at a writable folder"
        ) from None


def claim(parent: Path, name: str) -> Path:
    """A new folder ``parent/name``, or ``name_2``, ``name_3``... when that one is taken.

    ``mkdir`` without ``exist_ok`` is atomic: of processes started in the same second, each
    gets a folder of its own, where checking ``exists()`` first would give them one to share.
    """
    n = 1
    while True:
        folder = parent / (name if n == 1 else f"{name}_{n}")
        try:
            make_folder(folder, exist_ok=False)
            return folder
        except FileExistsError:
            n += 1


def new_run_dir(log_dir: str, task_name: str) -> Path:
    """A run folder made for this run alone; under torchrun or srun, the one of the job."""
    runs = Path(log_dir) / task_name / RUNS
    job_id = shared_job_id()
    if job_id is not None:
        folder = runs / f"job-{job_id}"
        # Only the first process writes config.yaml, so one there is an earlier launch's;
        # sharing that folder would mix two runs' checkpoints and metrics.
        if is_rank_zero() and (folder / CONFIG).is_file() and not relaunched():
            raise ConfigError(
                f"{folder} holds an earlier run launched with the id {job_id!r}: give this "
                "launch an id of its own (torchrun --rdzv_id=<id>)"
            )
        make_folder(folder, exist_ok=True)  # every process of the job names this one
        return folder
    if not is_rank_zero():
        raise ConfigError(
            "a process of rank > 0 was started without its run folder: start it with "
            "torchrun, srun or Lightning's own launcher (trainer=ddp)"
        )
    if relaunched() and (earlier := requeued_run(runs)) is not None:
        return earlier
    return claim(runs, datetime.now().strftime(STAMP))


def requeued_run(runs: Path) -> Path | None:
    """The folder an earlier start of this SLURM batch job made, found by the job id its
    environment.txt recorded. A requeued job runs its script again from the top, so a
    plain ``python train.py`` in it would otherwise name a new folder."""
    job = os.environ.get("SLURM_JOB_ID")
    if job is None or not runs.is_dir():
        return None
    recorded = f"  SLURM_JOB_ID={job}"
    started = [
        folder
        for folder in runs.iterdir()
        if (folder / ENVIRONMENT).is_file()
        and recorded in (folder / ENVIRONMENT).read_text().splitlines()
    ]
    return max(started, key=lambda folder: folder.name, default=None)


def find_run(log_dir: str, task_name: str | None, spec: str) -> Path:
    """The run folder that ``latest``, a timestamp (or unique prefix) or a path names, among
    the runs of ``task_name``, or of every task name when it is None."""
    spec = str(spec)
    if spec == LATEST:
        return latest_run(log_dir, task_name)
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    roots = [Path(log_dir) / task_name] if task_name else task_folders(log_dir)
    runs = [root / RUNS for root in roots if (root / RUNS).is_dir()]
    # Of every task name, only training runs: eval, predict and serve runs have no checkpoint.
    wanted = Path.is_dir if task_name else has_checkpoint
    exact = [folder / spec for folder in runs if wanted(folder / spec)]
    if len(exact) == 1:  # a full name, even where a longer one (``<spec>_2``) exists
        return exact[0].resolve()
    matches = exact or sorted(p for folder in runs for p in folder.glob(f"{spec}*") if wanted(p))
    if len(matches) == 1:
        return matches[0].resolve()
    where = Path(log_dir) / task_name / RUNS if task_name else Path(log_dir) / "*" / RUNS
    if matches:
        raise RunNotFoundError(
            f"{spec!r} matches {len(matches)} runs ({', '.join(_named(p) for p in matches)}); "
            "give more of the timestamp, or a run folder"
        )
    known = sorted(p.name for folder in runs for p in folder.iterdir() if wanted(p))
    hint = f"recent runs: {', '.join(known[-5:])}" if known else f"there are no runs in {where}"
    raise RunNotFoundError(f"no run folder or timestamp {spec!r}; {hint}")


def _named(run_dir: Path) -> str:
    return f"{run_dir.parent.parent.name}/{run_dir.name}"


def task_folders(log_dir: str) -> list[Path]:
    """``<log_dir>/<task_name>`` of every task name that has run."""
    root = Path(log_dir)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def latest_run(log_dir: str, task_name: str | None) -> Path:
    """What ``<log_dir>/<task_name>/latest`` points at; without a task name, the training run
    (one with a checkpoint) that became its task's ``latest`` last, whatever its task name:
    ``experiment=`` files may set their own (``task_name: digits_cnn``)."""
    if task_name:
        latest = Path(log_dir) / task_name / LATEST
        if not latest.exists():
            raise RunNotFoundError(
                f"no run under {latest.parent} yet: train one first, or name a run folder"
            )
        return latest.resolve()
    # Eval, predict and serve runs have a ``latest`` too, but no checkpoint.
    links = [
        folder / LATEST
        for folder in task_folders(log_dir)
        if (folder / LATEST).exists() and has_checkpoint((folder / LATEST).resolve())
    ]
    if not links:
        raise RunNotFoundError(
            f"no training run under {log_dir} yet: train one first, or name a run folder"
        )
    # The link's own time: when it was last pointed, as a run got its first checkpoint.
    return max(links, key=lambda link: link.lstat().st_mtime_ns).resolve()


def point_latest(log_dir: str, task_name: str, run_dir: Path) -> None:
    """Re-point ``<log_dir>/<task>/latest`` at ``run_dir`` (a single or a multirun job).

    A relative symlink, swapped in atomically so a reader never sees it missing.
    """
    link = Path(log_dir) / task_name / LATEST
    link.parent.mkdir(parents=True, exist_ok=True)  # a run outside log_dir (hydra.run.dir=...)
    temporary = link.with_name(f".{LATEST}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(run_dir.resolve(), link.parent.resolve()))
    os.replace(temporary, link)


def checkpoint_of(log_dir: str, runs_of: str | None, run: str, ckpt_path: str | None) -> Path:
    """The checkpoint eval/predict/export/serve use (each prints its path): ``ckpt_path`` if
    given, else the best of the run ``run`` names, among the runs of every task name when
    ``runs_of`` is None."""
    if ckpt_path:
        path = Path(ckpt_path)
        if not path.is_file():
            raise CheckpointError(f"ckpt_path={ckpt_path} does not exist")
        return path
    run_dir = find_run(log_dir, runs_of, run)
    path = run_dir / BEST_CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {BEST_CHECKPOINT}; pass ckpt_path=<file>")
    return path


@dataclass(frozen=True)
class TrainedRun:
    """The checkpoint eval, predict, export and serve use, and what they build from it."""

    checkpoint: Path

    @property
    def folder(self) -> Path:
        """The run folder of a run's ``checkpoints/best.ckpt`` (or of a ``ckpt_path=``)."""
        return self.checkpoint.parent.parent

    def predictor(self, device: "str | torch.device" = "cpu") -> "Predictor":
        """The model from raw inputs to the user's units, without Lightning or the data."""
        from ..pipelines.inference import Predictor

        return Predictor.load(self.checkpoint, device)

    def task_and_data(self) -> "tuple[Task, DataModule]":
        """The task and the data as the run was configured, to test it again."""
        from ..pipelines.build import build_data
        from ..tasks import load_task

        task = load_task(self.checkpoint)
        return task, build_data(task.hparams.data)


def trained_run(cfg: DictConfig) -> TrainedRun:
    """The run a launcher's ``run=``, ``runs_of=`` and ``ckpt_path=`` name; a bad one fails
    here, before torch loads."""
    return TrainedRun(checkpoint_of(cfg.paths.log_dir, cfg.runs_of, cfg.run, cfg.ckpt_path))


def run_dir_resolver(log_dir: str, task_name: str, resume: str | None) -> str:
    """Hydra's ``run.dir``: the resumed run's own folder, or a new one, made here.

    Lightning's launcher (``trainer=ddp``) starts its other processes with
    ``hydra.run.dir=<this folder>``, so they never come here to make one of their own.
    """
    if resume:
        return str(find_run(log_dir, task_name, resume))
    return str(new_run_dir(log_dir, task_name))


def sweep_dir_resolver(log_dir: str, task_name: str) -> str:
    """Hydra's ``sweep.dir`` of a multirun: a new folder, made here (see ``claim``)."""
    return str(claim(Path(log_dir) / task_name / MULTIRUNS, datetime.now().strftime(STAMP)))


def has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / LAST_CHECKPOINT).is_file() or (run_dir / BEST_CHECKPOINT).is_file()


def run_status(folder: Path) -> str:
    """``running`` (its lock is held, or it may still be starting: younger than a minute and
    no checkpoint yet), ``finished`` (it wrote metrics.json), ``interrupted`` (stopped after a
    checkpoint: ``resume=`` continues it) or ``failed`` (stopped before its first checkpoint,
    leaving only its config and log)."""
    if is_locked(folder):
        return "running"
    if (folder / METRICS).is_file():
        return "finished"
    if has_checkpoint(folder):
        return "interrupted"
    if folder.stat().st_mtime >= time.time() - STARTUP_SECONDS:
        return "running"
    return "failed"


def unfinished_runs(log_dir: str, task_name: str, run_dir: Path) -> list[Path]:
    """Earlier run folders of this task that stopped before their first checkpoint."""
    runs = Path(log_dir) / task_name / RUNS
    if not runs.is_dir() or run_dir.resolve().parent != runs.resolve():
        return []
    return [
        folder
        for folder in sorted(runs.iterdir())
        if folder.is_dir()
        and folder.resolve() != run_dir.resolve()
        and run_status(folder) == "failed"
    ]


def mention_unfinished_runs(log_dir: str, task_name: str, run_dir: Path) -> None:
    """One line saying how to remove folders of runs killed before their first checkpoint;
    they may hold a user's notes or logs, so nothing is deleted here."""
    unfinished = unfinished_runs(log_dir, task_name, run_dir)
    if unfinished:
        print(
            f"note: {len(unfinished)} earlier run(s) in {unfinished[0].parent} stopped before "
            f"their first checkpoint; remove them with: rm -r "
            f"{' '.join(shlex.quote(str(folder)) for folder in unfinished)}",
            file=sys.stderr,
        )
