"""``nonfinite_loss=stop``: a NaN or inf training loss ends the run before validation or a
checkpoint sees it, so the last good checkpoint is kept."""

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn

from .errors import NonFiniteLossError


class StopOnNonFiniteLoss(L.Callback):
    """Raise ``NonFiniteLossError`` (one line, exit code 2) when the training loss turns
    non-finite.

    Hand-written: Lightning's ``detect_anomaly`` checks every operation (slow) and
    ``EarlyStopping(check_finite=True)`` looks at validation metrics, after the checkpoint
    callbacks may have seen the broken weights. Here the losses are summed on the device,
    where a NaN or inf in any term makes the sum non-finite, and the sum is checked only
    every ``trainer.log_every_n_steps`` steps, before validating and at an epoch's end: no
    step waits for the device. Every process checks at the same steps and they agree (one
    small all-reduce), so under DDP all of them stop together, none left waiting.
    """

    def __init__(self) -> None:
        self.loss_sum = torch.zeros(())
        # The first step not yet checked.
        self.checked_step = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loss_sum = torch.zeros((), device=pl_module.device)
        self.checked_step = trainer.global_step

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self.loss_sum = loss.detach() + self.loss_sum
        if (batch_idx + 1) % trainer.log_every_n_steps == 0:
            self.check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Validation can run mid-epoch (trainer.val_check_interval); a checkpoint follows it.
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Before the checkpoints of a fit without validation (Lightning calls them last).
        self.check(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        """Raise if a loss since the last check was non-finite here or in another process.
        Hooks that follow each other (validation at an epoch's end, then the epoch's end) ask
        twice; the second has nothing new."""
        if self.checked_step == trainer.global_step:
            return
        finite = bool(torch.isfinite(self.loss_sum))
        if not trainer.strategy.reduce_boolean_decision(not finite, all=False):
            self.checked_step = trainer.global_step
            return
        first, last = self.checked_step, trainer.global_step - 1
        steps = f"at step {last}" if first == last else f"in steps {first}-{last}"
        value = "non-finite in another process" if finite else self.loss_sum.item()
        raise NonFiniteLossError(
            f"train/loss is {value} {steps} (epoch {trainer.current_epoch}); "
            "stopped and kept the last good checkpoint. Lower optimizer.lr, clip gradients "
            "(trainer.gradient_clip_val=1.0), or skip such batches (nonfinite_loss=skip)"
        )
