"""Run folders: ``logs/<task_name>/runs/<timestamp>/`` and the ``latest`` link beside them."""

import os
from datetime import datetime
from pathlib import Path

from .errors import CheckpointError, ConfigError, UserError

RUNS = "runs"
LATEST = "latest"
BEST_CHECKPOINT = "checkpoints/best.ckpt"
LAST_CHECKPOINT = "checkpoints/last.ckpt"


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


def new_run_dir(log_dir: str, task_name: str) -> Path:
    runs = Path(log_dir) / task_name / RUNS
    job_id = shared_job_id()
    if job_id is not None:
        return runs / f"job-{job_id}"
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    candidate, n = runs / stamp, 1
    while candidate.exists():
        n += 1
        candidate = runs / f"{stamp}_{n}"
    return candidate


def find_run(log_dir: str, task_name: str, spec: str) -> Path:
    """The run folder that ``latest``, a timestamp (or unique prefix) or a path names."""
    spec = str(spec)
    root = Path(log_dir) / task_name
    if spec == LATEST:
        latest = root / LATEST
        if not latest.exists():
            raise RunNotFoundError(
                f"no run under {root} yet: train one first, or name a run folder"
            )
        return latest.resolve()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    runs = root / RUNS
    matches = sorted(p for p in runs.glob(f"{spec}*") if p.is_dir()) if runs.is_dir() else []
    if len(matches) == 1:
        return matches[0].resolve()
    known = sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []
    if matches:
        raise RunNotFoundError(
            f"{spec!r} matches {len(matches)} runs ({', '.join(p.name for p in matches)}); "
            "give more of the timestamp"
        )
    hint = f"recent runs: {', '.join(known[-5:])}" if known else f"there are no runs in {runs}"
    raise RunNotFoundError(f"no run folder or timestamp {spec!r}; {hint}")


def point_latest(log_dir: str, task_name: str, run_dir: Path) -> None:
    """Re-point ``<log_dir>/<task>/latest`` at ``run_dir`` (a single or a multirun job).

    A relative symlink, swapped in atomically so a reader never sees it missing.
    """
    link = Path(log_dir) / task_name / LATEST
    temporary = link.with_name(f".{LATEST}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(run_dir.resolve(), link.parent.resolve()))
    os.replace(temporary, link)


def checkpoint_of(log_dir: str, runs_of: str, run: str, ckpt_path: str | None) -> Path:
    """The checkpoint eval/predict/export use: ``ckpt_path`` if given, else the run's best."""
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


def run_dir_resolver(log_dir: str, task_name: str, resume: str | None) -> str:
    """Hydra's ``run.dir``: the resumed run's own folder, or a new one."""
    if resume:
        return str(find_run(log_dir, task_name, resume))
    return str(new_run_dir(log_dir, task_name))


def remove_partial_writes(checkpoint_dir: Path) -> None:
    """Temporary files of a process killed while writing a checkpoint (see AtomicCheckpointIO)."""
    for leftover in checkpoint_dir.glob(".*.tmp-*"):
        leftover.unlink(missing_ok=True)
