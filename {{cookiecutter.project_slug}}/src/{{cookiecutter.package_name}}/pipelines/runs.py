"""``python runs.py``: the training runs in one table; ``runs.py compare``: two side by side.

Everything comes from the files in the run folders (config.yaml, choices.yaml,
metrics.json, metrics.csv, run.lock), so no torch is imported.
"""

import csv
import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from ..utils.config import CHOICES, CONFIG, load_config
from ..utils.console import print_wide
from ..utils.errors import ConfigError
from ..utils.runs import (
    MULTIRUNS,
    RUNS,
    STAMP,
    find_run,
    has_checkpoint,
    run_status,
    task_folders,
)
from ..utils.sweeps import job_order

USAGE = """\
usage: python runs.py [sort=<metric>] [task=<task_name>] [model=<option>] [data=<option>]
                      [status=finished|interrupted|failed|running] [paths.log_dir=<folder>]
       python runs.py compare <run> <run> [paths.log_dir=<folder>]
sort=val/loss sorts smallest first, sort=-val/acc largest first; <run> is what run= takes:
latest | a timestamp (or unique prefix) | a run folder"""
FILTERS = ("task", "model", "data", "status")
OPTIONS = (*FILTERS, "sort")
# The metrics shown: the best checkpoint's (metrics.json), as the results table shows them.
SHOWN = ("val/", "test/")
CURVES = "metrics.csv"
# What marks a training run's folder: Hydra's log of train.py (eval.py writes eval.log...).
TRAIN_LOG = "train.log"


@dataclass(frozen=True)
class Run:
    folder: Path
    name: str
    task: str
    model: str
    data: str
    status: str
    metrics: dict[str, float]


def runs_command(args: Sequence[str], config_dir: Path) -> None:
    """What ``runs.py`` does with its command line."""
    if {"-h", "--help"} & set(args):
        print(USAGE)
        return
    compared: list[str] = []
    if args[:1] == ["compare"]:
        compared, args = list(args[1:3]), args[3:]
        if len(compared) < 2 or any("=" in name for name in compared):
            raise ConfigError("compare takes two runs: python runs.py compare <run> <run>")
    options, overrides = {}, []
    for arg in args:
        key, equals, value = arg.partition("=")
        if key in OPTIONS and equals:
            options[key] = value
        elif key.lstrip("+~").startswith("paths."):
            overrides.append(arg)
        else:
            close = difflib.get_close_matches(key, [*OPTIONS, "paths.log_dir"], n=1)
            hint = f"did you mean {close[0]}=? " if close else ""
            raise ConfigError(f"unknown argument {arg!r}; {hint}see python runs.py --help")
    log_dir = str(_compose(config_dir, overrides).paths.log_dir)
    if compared:
        compare(log_dir, options.get("task"), *compared)
    else:
        list_runs(log_dir, options)


def _compose(config_dir: Path, overrides: list[str]) -> DictConfig:
    """configs/runs.yaml: ``paths`` and ``local`` as train.py composes them, without Hydra's
    run folder and log, which a listing does not need."""
    with initialize_config_dir(str(config_dir.resolve()), version_base="1.3"):
        return compose("runs", overrides=overrides)


def training_runs(log_dir: str) -> list[Run]:
    """Every training run under ``<task_name>/runs/`` and ``<task_name>/multiruns/``,
    newest first."""
    folders = [
        folder
        for task in task_folders(log_dir)
        for folder in [*(task / RUNS).glob("*"), *(task / MULTIRUNS).glob("*/*")]
        if (folder / TRAIN_LOG).is_file() or has_checkpoint(folder)
    ]
    return [read_run(folder) for folder in sorted(folders, key=_started, reverse=True)]


def _in_sweep(folder: Path) -> bool:
    """A job of a sweep, ``multiruns/<timestamp>/<job>`` (``<n>``, or ``trial_<n>``)."""
    return folder.parent.parent.name == MULTIRUNS


def _started(folder: Path) -> tuple[float, str, tuple[int, str]]:
    """When a run started: its folder's timestamp, or its sweep's and then its job's place."""
    stamped, job = (folder.parent, job_order(folder)) if _in_sweep(folder) else (folder, (0, ""))
    try:
        started = datetime.strptime(stamped.name[:19], STAMP).timestamp()
    except ValueError:  # job-<id>: a torchrun or srun launch names its folder by its job
        started = stamped.stat().st_mtime
    return started, stamped.name, job


def read_run(folder: Path) -> Run:
    in_sweep = _in_sweep(folder)
    task = (folder.parents[2] if in_sweep else folder.parents[1]).name
    config = _read_yaml(folder / CONFIG)
    choices = _read_yaml(folder / CHOICES)
    metrics_file = folder / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return Run(
        folder=folder,
        # A timestamp is what run= takes; a sweep's job is named by its folder.
        name=str(folder) if in_sweep else folder.name,
        task=task,
        model=_option(config, choices, "model"),
        data=_option(config, choices, "data"),
        status=run_status(folder),
        metrics={k: v for k, v in metrics.items() if k.startswith(SHOWN)},
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def _option(config: dict[str, Any], choices: dict[str, Any], group: str) -> str:
    """The option a config group got (``cnn``), or its class name for a run from before
    choices.yaml was kept; empty for a run stopped before its config was saved."""
    if choices.get(group):
        return str(choices[group])
    target = (config.get(group) or {}).get("_target_") or ""
    return str(target).rsplit(".", 1)[-1]


def list_runs(log_dir: str, options: dict[str, str]) -> None:
    runs = training_runs(log_dir)
    for key in FILTERS:
        if key in options:
            runs = [run for run in runs if getattr(run, key) == options[key]]
    if "sort" in options:
        runs = sort_runs(runs, options["sort"])
    if not runs:
        wanted = " ".join(f"{k}={options[k]}" for k in FILTERS if k in options)
        print(f"no training runs in {log_dir}" + (f" with {wanted}" if wanted else ""))
        return
    names = _metric_names(runs)
    table = Table(title=f"{len(runs)} training runs in {log_dir}", header_style="bold")
    for column in ("run", "task", "model", "data", "status"):
        table.add_column(column)
    for name in names:
        table.add_column(name, justify="right")
    for run in runs:
        values = (_number(run.metrics.get(name)) for name in names)
        table.add_row(run.name, run.task, run.model, run.data, run.status, *values)
    print_wide(table)
    print("compare two: python runs.py compare <run> <run>")


def sort_runs(runs: list[Run], metric: str) -> list[Run]:
    """Smallest first (``-<metric>``: largest first); runs without a finite value last."""
    name = metric.removeprefix("-")
    known = sorted({n for run in runs for n in run.metrics})
    if runs and name not in known:
        choices = f"; sort by one of: {', '.join(known)}" if known else ""
        raise ConfigError(f"no run has the metric {name!r}{choices}")
    valued = [run for run in runs if math.isfinite(run.metrics.get(name, math.nan))]
    valued.sort(key=lambda run: run.metrics[name], reverse=metric.startswith("-"))
    return valued + [run for run in runs if run not in valued]


def _metric_names(runs: list[Run]) -> list[str]:
    """val/ before test/, each alphabetical."""
    return sorted({n for run in runs for n in run.metrics}, key=lambda n: (n[:5] == "test/", n))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def compare(log_dir: str, task: str | None, first: str, second: str) -> Path | None:
    """Print what differs between two runs' configs, their metrics side by side, and draw
    their learning curves into one PNG; return its path (None when neither has curves)."""
    runs = [read_run(find_run(log_dir, task, name)) for name in (first, second)]
    labels = [_label(run.folder) for run in runs]
    configs = [_flat(OmegaConf.to_container(load_config(run.folder))) for run in runs]
    missing = "-"
    differ = [
        key
        for key in sorted(configs[0].keys() | configs[1].keys())
        if configs[0].get(key, missing) != configs[1].get(key, missing)
    ]
    table = Table(title=f"config: {len(differ)} values differ", header_style="bold")
    for column in ("key", *labels):
        table.add_column(column)
    for key in differ:
        table.add_row(key, *(str(config.get(key, missing)) for config in configs))
    print_wide(table)

    names = _metric_names(runs)
    table = Table(title="metrics", header_style="bold")
    table.add_column("metric")
    for label in labels:
        table.add_column(label, justify="right")
    table.add_row("status", *(run.status for run in runs))
    for name in names:
        table.add_row(name, *(_number(run.metrics.get(name)) for run in runs))
    print_wide(table)

    histories = {
        label: learning_history(run.folder) for label, run in zip(labels, runs, strict=True)
    }
    for label, history in histories.items():
        if not history:
            print(f"note: {label} has no {CURVES} (logger=csv writes it): no curves of it")
    if not any(histories.values()):
        return None
    from ..utils.plots import compared_learning_curves

    # A sweep job's label holds its sweep's timestamp: trial_2 of two searches stay apart.
    name = "_vs_".join(label.replace("/", "_") for label in labels)
    path = Path(log_dir) / "compare" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    compared_learning_curves(histories).savefig(path, dpi=100)
    print(f"learning curves: {path}")
    return path


def _label(folder: Path) -> str:
    """A run's short name: its timestamp, or ``<sweep timestamp>/<job>``."""
    return f"{folder.parent.name}/{folder.name}" if _in_sweep(folder) else folder.name


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``, the keys as overrides name them."""
    if not isinstance(node, dict):
        return {prefix.removesuffix("."): node}
    return {k: v for key, value in node.items() for k, v in _flat(value, f"{prefix}{key}.").items()}


def learning_history(folder: Path) -> list[dict[str, float]]:
    """Per epoch, the train/ and val/ metrics of metrics.csv (written with logger=csv)."""
    path = folder / CURVES
    if not path.is_file():
        return []
    epochs: dict[int, dict[str, float]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            values = {k: float(v) for k, v in row.items() if v and k.startswith(("train/", "val/"))}
            if values and row.get("epoch"):
                epoch = int(float(row["epoch"]))
                epochs.setdefault(epoch, {"epoch": epoch}).update(values)
    return [epochs[epoch] for epoch in sorted(epochs)]
