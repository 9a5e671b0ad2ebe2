"""Run folders: ``logs/<task_name>/runs/<timestamp>/`` and the ``latest`` link beside them."""

import os
from datetime import datetime
from pathlib import Path

RUNS = "runs"
LATEST = "latest"
# Launchers that start every process themselves (torchrun, srun) share these job ids, so
# all ranks agree on one folder without talking to each other.
_JOB_ID_VARIABLES = ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID")


class RunNotFoundError(ValueError):
    pass


def new_run_dir(log_dir: str, task_name: str) -> Path:
    runs = Path(log_dir) / task_name / RUNS
    for variable in _JOB_ID_VARIABLES:
        job_id = os.environ.get(variable, "none")
        if job_id != "none" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
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


def point_latest(run_dir: Path) -> None:
    """Re-point ``<task>/latest`` at ``run_dir`` atomically (a relative symlink)."""
    link = run_dir.parent.parent / LATEST
    temporary = link.with_name(f".{LATEST}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(RUNS) / run_dir.name)
    os.replace(temporary, link)


def run_dir_resolver(log_dir: str, task_name: str, resume: str | None) -> str:
    """Hydra's ``run.dir``: the resumed run's own folder, or a new one."""
    if resume:
        return str(find_run(log_dir, task_name, resume))
    return str(new_run_dir(log_dir, task_name))
