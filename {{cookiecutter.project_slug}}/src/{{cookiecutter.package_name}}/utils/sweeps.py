"""The end of a multirun (``-m``, or ``hparams_search=optuna``): one table of each job's
overrides and metrics, printed and kept as ``multirun_summary.csv`` in the sweep folder."""

import csv
import json
import os
from pathlib import Path
from typing import Any

import yaml
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from .ranks import is_rank_zero
from .runs import METRICS
from .studies import announce, announce_best, record_trial, study_of, trial_number

OVERRIDES = "overrides.yaml"
SUMMARY = "multirun_summary.csv"
# The table's metrics; every metric of a job stays in its own metrics.json.
SHOWN = ("val/", "test/")


class MultirunSummary(Callback):
    """Hydra calls this in every run (configs/hydra/default.yaml registers it).

    Each job writes its overrides into its folder as it ends, in the process that ran it
    (SLURM jobs too), after its metrics.json, and the summary is rebuilt from the job
    folders each time: a search stopped halfway keeps the summary of the jobs that ended,
    and a plain sweep whose job failed (Hydra then stops before the end) keeps one too.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if study := study_of(config):
            announce(*study)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        job_dir = Path(config.hydra.runtime.output_dir)
        # A job of several processes (DDP on SLURM) is written for by its first one.
        if config.hydra.mode != RunMode.MULTIRUN or not is_rank_zero() or not job_dir.is_dir():
            return
        overrides = list(job_return.overrides or [])
        if study := study_of(config):
            record_trial(*study, job_dir, overrides)
        (job_dir / OVERRIDES).write_text(yaml.safe_dump(overrides, default_flow_style=False))
        write_summary(Path(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        header, rows = write_summary(sweep_dir)
        if rows:
            print_summary(header, rows, sweep_dir / SUMMARY)
        if study := study_of(config):
            announce_best(*study)


def job_order(folder: Path) -> tuple[int, str]:
    """A sweep's job folders in the order they were started: 2 before 10, trial_2 before
    trial_10."""
    return len(folder.name), folder.name


def job_folders(sweep_dir: Path) -> list[Path]:
    """The folders of the jobs that ended, in the order they were started."""
    return sorted((path.parent for path in sweep_dir.glob(f"*/{OVERRIDES}")), key=job_order)


def summary(sweep_dir: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: job, the overrides that differ between jobs (all of them for one
    job), status, and the val/ and test/ metrics."""
    jobs = []
    for folder in job_folders(sweep_dir):
        typed = yaml.safe_load((folder / OVERRIDES).read_text()) or []
        overrides = dict(str(item).partition("=")[::2] for item in typed)
        metrics_file = folder / METRICS
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
        jobs.append((folder.name, overrides, metrics))
    keys = list(dict.fromkeys(key for _, overrides, _ in jobs for key in overrides))
    varying = [k for k in keys if len({o.get(k, "") for _, o, _ in jobs}) > 1]
    keys = varying if len(jobs) > 1 and varying else keys
    names = sorted({n for _, _, m in jobs for n in (m or {}) if n.startswith(SHOWN)})
    # An Optuna search's trial numbers, which differ from the job numbers once it continues.
    trials = [trial_number(sweep_dir / job) for job, _, _ in jobs]
    shown_trials = any(trial is not None for trial in trials)
    rows = [
        [
            job,
            *([trial if trial is not None else ""] if shown_trials else []),
            *(overrides.get(key, "") for key in keys),
            "completed" if metrics is not None else "failed",
            *((metrics or {}).get(name, "") for name in names),
        ]
        for (job, overrides, metrics), trial in zip(jobs, trials, strict=True)
    ]
    return ["job", *(["trial"] if shown_trials else []), *keys, "status", *names], rows


def write_summary(sweep_dir: Path) -> tuple[list[str], list[list[Any]]]:
    """``multirun_summary.csv``, replaced whole (jobs running side by side each rewrite it)."""
    header, rows = summary(sweep_dir)
    temporary = sweep_dir / f".{SUMMARY}.{os.getpid()}"
    with temporary.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(temporary, sweep_dir / SUMMARY)
    return header, rows


def print_summary(header: list[str], rows: list[list[Any]], path: Path) -> None:
    from rich.table import Table

    from .console import console, print_wide

    cells = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    table = Table(title=f"multirun: {len(rows)} jobs", header_style="bold")
    for name in header:
        table.add_column(name, justify="right" if name.startswith(SHOWN) else "left")
    for row in cells:
        table.add_row(*row)
    print_wide(table)
    console.print(f"[bold]summary:[/bold] {path}", soft_wrap=True)
