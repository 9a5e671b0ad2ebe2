"""Fit, then test the best checkpoint; everything lands in the run folder."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.config import (
    apply_overrides,
    command_line_overrides,
    load_config,
    save_config,
    to_container,
)
from ..utils.console import print_config, print_results, silence_known_warnings
from ..utils.errors import CheckpointError
from ..utils.provenance import write_provenance
from ..utils.ranks import is_rank_zero
from ..utils.runs import LAST_CHECKPOINT, point_latest, remove_partial_writes
from ..utils.validation import validate

if TYPE_CHECKING:  # torch and Lightning are imported lazily, after the config is checked
    import lightning as L


def resolve_run(cfg: DictConfig) -> tuple[DictConfig, Path, Path | None]:
    """The run's config, its folder, and the checkpoint to resume from (if any).

    A resumed run keeps the config it was started with; only values given on this
    command line change it. Nothing is written here, so bad input leaves no trace.
    """
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    resume_from = None
    if cfg.get("resume"):
        resume_from = run_dir / LAST_CHECKPOINT
        cfg = apply_overrides(load_config(run_dir), command_line_overrides(exclude={"resume"}))
        cfg.resume = None
        check_resumable(cfg, resume_from)
    validate(cfg)
    return cfg, run_dir, resume_from


def record_run(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> None:
    """Config, provenance and the ``latest`` link, once the data and model are known good."""
    if not is_rank_zero():
        return
    if resume_from is None:
        save_config(cfg, run_dir)
        write_provenance(run_dir)
    else:
        remove_partial_writes(resume_from.parent)
    point_latest(cfg.paths.log_dir, cfg.task_name, run_dir)
    print_config(cfg, save_to=run_dir / "config_tree.log")


def check_resumable(cfg: DictConfig, checkpoint: Path) -> None:
    """The checkpoint exists, is readable and holds the model the run's config builds."""
    if not checkpoint.is_file():
        raise CheckpointError(
            f"{checkpoint} does not exist: the run stopped before its first checkpoint; "
            "start a new run instead"
        )
    from ..utils.checkpoints import read_checkpoint

    saved_model = read_checkpoint(checkpoint)["hyper_parameters"]["model"]
    if saved_model != to_container(cfg.model):
        raise CheckpointError(
            f"{checkpoint} holds a {saved_model.get('_target_')} but the run's config builds "
            f"{cfg.model.get('_target_')}; it is a checkpoint of another model. Resume the "
            "run it came from, or start a new run"
        )


def fit(
    trainer: L.Trainer,
    task: L.LightningModule,
    datamodule: L.LightningDataModule,
    resume_from: Path | None,
    run_dir: Path,
) -> None:
    """``trainer.fit`` that exits non-zero when stopped by a signal (Lightning exits 0 on
    SIGTERM, which would tell a scheduler the job succeeded)."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        with warnings.catch_warnings():
            if resume_from is not None:
                # Lightning ends the restored epoch again without validating, so the best
                # checkpoint's callback looks for val/loss once in vain; the run that wrote
                # the checkpoint has already shown any real mistake in its monitor key.
                warnings.filterwarnings("ignore", r".*could not find the monitored key")
            trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    except SystemExit as stop:
        signal_name, code = (
            ("SIGTERM", 143) if isinstance(stop, SIGTERMException) else ("SIGINT", 130)
        )
        print(
            f"stopped by {signal_name} at epoch {trainer.current_epoch}, step "
            f"{trainer.global_step}; saved {run_dir / LAST_CHECKPOINT}. Continue with: "
            f"python train.py resume={run_dir}",
            file=sys.stderr,
        )
        raise SystemExit(code) from None


def train(cfg: DictConfig) -> dict[str, float]:
    cfg, run_dir, resume_from = resolve_run(cfg)

    silence_known_warnings()
    import lightning as L

    from ..utils.loggers import finish_loggers
    from .build import build_data, build_task, build_trainer
    from .speed import apply_speed_flags
    from .tuning import tune

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build_data(cfg.data)
    task = build_task(cfg, datamodule)  # reads the data: a bad file fails before any write
    record_run(cfg, run_dir, resume_from)
    trainer = build_trainer(cfg)
    apply_speed_flags(cfg, trainer)
    tune(cfg, trainer, task, datamodule)
    fit(trainer, task, datamodule, resume_from, run_dir)

    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.get("test"):
        results = trainer.test(
            task, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False
        )
        metrics.update({name: float(value) for name, value in results[0].items()})
    finish_loggers(trainer.loggers)
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        print_results(
            "results",
            {name: value for name, value in metrics.items() if name.startswith(("val/", "test/"))},
            {
                "best checkpoint": best or "(none: no checkpoint callback)",
                "run folder": str(run_dir),
            },
        )
    return metrics
