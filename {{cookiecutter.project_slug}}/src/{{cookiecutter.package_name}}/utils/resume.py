"""Resuming a run: its checkpoint is checked before anything is built, and the plan it
carries is compared with the config's once the fit has restored it."""

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn
from omegaconf import DictConfig

from ..tasks.schedulers import plan_changes
from .checkpoint_reader import read_checkpoint
from .config import to_container
from .errors import CheckpointError, ConfigError


def check_resumable(cfg: DictConfig, checkpoint: Path) -> None:
    """The checkpoint exists, is readable and holds the model the run's config builds."""
    if not checkpoint.is_file():
        raise CheckpointError(
            f"{checkpoint} does not exist: the run stopped before its first checkpoint; "
            "start a new run instead"
        )
    saved_model = read_checkpoint(checkpoint)["hyper_parameters"]["model"]
    if saved_model != to_container(cfg.model):
        raise CheckpointError(
            f"{checkpoint} holds a {saved_model.get('_target_')} but the run's config builds "
            f"{cfg.model.get('_target_')}; it is a checkpoint of another model. Resume the "
            "run it came from, or start a new run"
        )


class ResumedPlanCheck(L.Callback):
    """A resumed fit gets its optimizer and scheduler back from the checkpoint, so a value
    changed on the command line (a longer trainer.max_epochs under a cosine schedule, a new
    optimizer.lr) would otherwise be ignored without a word: warn which, and refuse a
    schedule that cannot step as far as the run now goes."""

    def __init__(self) -> None:
        self.saved_optimizer: dict[str, Any] | None = None

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self.saved_optimizer = checkpoint.get("hyper_parameters", {}).get("optimizer")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.ckpt_path:
            return
        changes = []
        if self.saved_optimizer is not None:
            planned = pl_module.hparams.optimizer
            changes += plan_changes(self.saved_optimizer, planned, "optimizer")
        if trainer.lr_scheduler_configs:
            restored = trainer.lr_scheduler_configs[0].scheduler
            # A second optimizer and scheduler, made only to read what the config now plans.
            fresh = pl_module.configure_optimizers()["lr_scheduler"]["scheduler"]
            changes += plan_changes(restored.state_dict(), fresh.state_dict(), "scheduler")
            planned_steps = getattr(restored, "total_steps", None)
            if planned_steps is not None and fresh.total_steps > planned_steps:
                raise ConfigError(
                    f"the checkpoint's {type(restored).__name__} plans {planned_steps} steps and "
                    f"cannot step past them, but this run needs {fresh.total_steps}; resume "
                    "with the run's own trainer.max_epochs, or start a new run"
                )
        if changes:
            rank_zero_warn(
                "resumed with the optimizer and learning-rate schedule saved in the checkpoint; "
                f"the config's new plan ({', '.join(changes)}) takes effect only in a new run"
            )
