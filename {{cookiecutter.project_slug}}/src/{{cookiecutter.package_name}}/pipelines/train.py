"""Fit, then test the best checkpoint; everything lands in the run folder."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.config import (
    apply_overrides,
    command_line_overrides,
    load_config,
    save_config,
    to_container,
)
from ..utils.config_checks import validate
from ..utils.console import (
    print_config,
    print_results,
    save_config_tree,
    silence_known_warnings,
)
from ..utils.locks import run_lock
from ..utils.provenance import write_provenance
from ..utils.ranks import is_rank_zero
from ..utils.runs import LAST_CHECKPOINT, mention_unfinished_runs, relaunched

if TYPE_CHECKING:  # torch and Lightning are imported lazily, after the config is checked
    import lightning as L

# The prefix of the last epoch's validation metrics, beside the best checkpoint's.
LAST = "last_epoch/"
# submitit's sys.exit code once its SIGUSR2 handler has requeued a SLURM job.
SUBMITIT_REQUEUED = -1


def resolve_run(cfg: DictConfig) -> tuple[DictConfig, Path, Path | None]:
    """The run's config, its folder, and the checkpoint to resume from (if any).

    A resumed run keeps the config it was started with; only values given on this
    command line change it (none when SLURM or torchrun relaunched it). Nothing is
    written here, so bad input leaves no trace.
    """
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    resume_from = None
    if cfg.get("resume"):
        resume_from = run_dir / LAST_CHECKPOINT
        cfg = apply_overrides(load_config(run_dir), command_line_overrides(exclude={"resume"}))
        cfg.resume = None
    elif relaunched() and (run_dir / LAST_CHECKPOINT).is_file():
        # SLURM requeued this job (preempted, or out of time) or torchrun restarted it: the
        # same launch in the same folder, so it continues with the config it saved there,
        # whatever groups its command line chose.
        resume_from = run_dir / LAST_CHECKPOINT
        cfg = load_config(run_dir)
        if is_rank_zero():
            print(f"relaunched: continuing from {resume_from}", file=sys.stderr)
    if resume_from is not None:
        from ..utils.resume import check_resumable

        check_resumable(cfg, resume_from)
    validate(cfg)
    return cfg, run_dir, resume_from


def record_run(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> None:
    """Config and provenance, once the data and model are known good. ``latest`` moves to
    the run later, once it has a checkpoint (see ``PointLatest``)."""
    if not is_rank_zero():
        return
    if resume_from is None:
        save_config(cfg, run_dir)
        write_provenance(run_dir)
    print_config(cfg, save_to=run_dir / "config_tree.log")


def fit(
    trainer: L.Trainer,
    task: L.LightningModule,
    datamodule: L.LightningDataModule,
    resume_from: Path | None,
    run_dir: Path,
) -> None:
    """``trainer.fit`` that exits non-zero when stopped by a signal (Lightning exits 0 on
    SIGTERM, which would tell a scheduler the job succeeded)."""
    try:
        with warnings.catch_warnings():
            if resume_from is not None:
                # Lightning ends the restored epoch again without validating, so the best
                # checkpoint's callback looks for val/loss once in vain; the run that wrote
                # the checkpoint has already shown any real mistake in its monitor key.
                warnings.filterwarnings("ignore", r".*could not find the monitored key")
            trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    except SystemExit as stop:
        signal_name, code = _signal_of(stop)
        requeued = (
            " (a requeued SLURM job continues by itself)" if "SLURM_JOB_ID" in os.environ else ""
        )
        print(
            f"stopped by {signal_name} at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step}; saved {run_dir / LAST_CHECKPOINT}. Continue with: "
            f"python train.py resume={run_dir}{requeued}",
            file=sys.stderr,
        )
        raise SystemExit(code) from None


def test_best(
    trainer: L.Trainer,
    task: L.LightningModule,
    datamodule: L.LightningDataModule,
    best: str,
    run_dir: Path,
) -> dict[str, float]:
    """``trainer.test`` of the best checkpoint, stopped by a signal as ``fit`` is (exit code
    130 or 143); the checkpoints stay as fitting left them."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    def stop(signum: int, frame: FrameType | None) -> None:
        # Lightning only notes a SIGTERM, and looks at the note between training batches.
        raise SIGTERMException

    # Signal handlers can only be set from the main thread (as train.py runs).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
    try:
        results = trainer.test(
            task, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False
        )
    except SystemExit as stopped:
        signal_name, code = _signal_of(stopped)
        print(
            f"stopped by {signal_name} while testing; the run is fully trained and its "
            f"checkpoints are kept. Test it with: python eval.py run={run_dir}",
            file=sys.stderr,
        )
        raise SystemExit(code) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return {name: float(value) for name, value in results[0].items()}


def _signal_of(stop: SystemExit) -> tuple[str, int]:
    """The signal that stopped a Lightning call, and the exit code a shell gives it
    (Lightning turns Ctrl+C into ``sys.exit(1)``)."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    if isinstance(stop, SIGTERMException):
        return "SIGTERM", 143
    if stop.code == SUBMITIT_REQUEUED and "SLURM_JOB_ID" in os.environ:
        return "SIGUSR2 (time limit or preemption: submitit requeued the job)", SUBMITIT_REQUEUED
    return "SIGINT", 130


def reported_metrics(last: Mapping[str, Any], best: str) -> dict[str, float]:
    """The last epoch's metrics, with the validation metrics of the best checkpoint (the
    one tested, exported and served) as ``val/*`` and the last epoch's as ``last_epoch/val/*``:
    a search optimises, and a table compares, numbers a checkpoint has."""
    metrics = {name: float(value) for name, value in last.items()}
    if not best:
        return metrics
    from ..tasks.base import VAL_METRICS
    from ..utils.checkpoint_reader import read_checkpoint

    checkpoint = read_checkpoint(best)
    if VAL_METRICS not in checkpoint:  # saved before checkpoints kept their metrics
        return metrics
    last_val = {LAST + name: metrics.pop(name) for name in list(metrics) if name.startswith("val/")}
    best_epoch = float(checkpoint["epoch"])
    return {**metrics, **last_val, **checkpoint[VAL_METRICS], "best_epoch": best_epoch}


def best_note(best: str, metrics: Mapping[str, float]) -> str:
    if not best:
        return "(none: no checkpoint callback; val/ is the last epoch's)"
    if "best_epoch" not in metrics:
        return best
    return (
        f"{best} (epoch {metrics['best_epoch']:.0f}: val/ and test/ are its metrics, "
        f"{LAST}val/ the last epoch's)"
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test in a run folder no other process writes into (see ``utils/locks.py``).

    The first process holds the lock for all processes of a multi-process run.
    """
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if not is_rank_zero():
        return fit_and_test(cfg)
    with run_lock(run_dir):
        mention_unfinished_runs(cfg.paths.log_dir, cfg.task_name, run_dir)
        return fit_and_test(cfg)


def fit_and_test(cfg: DictConfig) -> dict[str, float]:
    cfg, run_dir, resume_from = resolve_run(cfg)

    silence_known_warnings()
    import lightning as L

    from ..utils.checkpoints import remove_orphaned_writes
    from ..utils.loggers import finish_loggers
    from .build import build_data, build_task, build_trainer
    from .speed import apply_speed_flags
    from .tuning import tune

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build_data(cfg.data)
    task = build_task(cfg, datamodule)  # reads the data: a bad file fails before any write
    record_run(cfg, run_dir, resume_from)
    if is_rank_zero():
        remove_orphaned_writes(cfg.paths.log_dir, cfg.task_name, run_dir)
    trainer = build_trainer(cfg)
    apply_speed_flags(cfg, trainer)
    # A resumed run trains on with the values its config recorded, tuned or not.
    if resume_from is None and tune(cfg, trainer, task, datamodule) and is_rank_zero():
        save_config(cfg, run_dir)  # now with the tuned values
        save_config_tree(cfg, run_dir / "config_tree.log")
    # After tuning: MLflow refuses a parameter logged again with another value.
    for logger in trainer.loggers:
        logger.log_hyperparams(to_container(cfg))
    fit(trainer, task, datamodule, resume_from, run_dir)

    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    # Only the first process writes and reports: the others may not see its files.
    metrics = reported_metrics(trainer.callback_metrics, best if trainer.is_global_zero else "")
    if cfg.get("test"):
        metrics.update(test_best(trainer, task, datamodule, best, run_dir))
    finish_loggers(trainer.loggers, metrics)
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        print_results(
            "results",
            {name: value for name, value in metrics.items() if name.startswith(("val/", "test/"))},
            {
                "best checkpoint": best_note(best, metrics),
                "run folder": str(run_dir),
            },
        )
    return metrics
