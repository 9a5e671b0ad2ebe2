from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure
from torch import nn
from torchmetrics import MeanMetric, MetricCollection

from ..data.preprocessing import CHECKPOINT_KEY as PREPROCESSING
from ..models.outputs import Outputs, prediction
from ..models.shapes import SHAPE_ERRORS, describe
from ..utils.errors import ConfigError
from ..utils.tested_outputs import CollectTestOutputs
from .losses import build_loss, name_of

STAGES = ("train", "val", "test")
# What a NaN/inf training loss does: stop the run (utils/nan_guard.py), skip the batch
# (which waits for the device every step), or nothing.
NONFINITE_POLICIES = ("stop", "skip", "ignore")
# The checkpoint entry naming the task that trained it (see Task.on_save_checkpoint).
TASK_KIND = "task_kind"
# The checkpoint entry holding the validation metrics of the epoch it was saved at.
VAL_METRICS = "val_metrics"


def without_state(module: nn.Module) -> nn.Module:
    """``module`` with its buffers left out of ``state_dict``: it still moves with the task
    to the device, and checkpoints hold the model's weights only, so they load strictly."""
    for part in module.modules():
        for name, buffer in list(part.named_buffers(recurse=False)):
            part.register_buffer(name, buffer, persistent=False)
    return module


def ends_epoch(trainer: L.Trainer, batch_idx: int) -> bool:
    """Whether the training epoch ends after batch ``batch_idx``: its loader is spent,
    ``limit_train_batches`` or ``max_steps`` is reached, or a callback asked to stop."""
    return (
        trainer.is_last_batch
        or batch_idx + 1 >= trainer.num_training_batches
        or 0 <= trainer.max_steps <= trainer.global_step
        or trainer.should_stop
    )


class Task(L.LightningModule):
    """Training logic around any model: loss, metrics, optimisation and logging.

    Every argument is a plain value (configs as dicts), so ``save_hyperparameters`` keeps
    the checkpoint loadable with ``torch.load(weights_only=True)`` and the checkpoint
    alone rebuilds the model, the data and the optimiser.
    """

    kind: str
    # The loss of loss=auto (configs/loss/auto.yaml), by its import path.
    default_loss: str

    def __init__(
        self,
        model: dict[str, Any],
        data: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        input_shape: Sequence[int],
        num_outputs: int,
        class_names: Sequence[str] | None = None,
        nonfinite_loss: str = "stop",
        loss: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if nonfinite_loss not in NONFINITE_POLICIES:
            raise ConfigError(
                f"nonfinite_loss={nonfinite_loss} must be one of {', '.join(NONFINITE_POLICIES)}"
            )
        self.save_hyperparameters()
        self.model: nn.Module = instantiate(
            model, input_shape=tuple(input_shape), num_outputs=num_outputs
        )
        self.example_input_array = torch.zeros(2, *input_shape)
        # A model's own loss(outputs, targets) replaces the configured one (see loss()).
        self.model_has_loss = callable(getattr(self.model, "loss", None))
        if self.model_has_loss and loss and loss.get("_target_"):
            raise ConfigError(
                f"model {type(self.model).__name__} computes its own loss (its loss method), "
                f"so loss._target_={loss['_target_']} would not be used; leave loss=auto"
            )
        self.criterion = build_loss(loss, self.kind, self.default_loss)
        if isinstance(self.criterion, nn.Module):
            # Its class weights come from the config, which rebuilds them.
            without_state(self.criterion)
        metrics = self.build_metrics()
        self.metrics = nn.ModuleDict(
            {f"{stage}_metrics": metrics.clone(prefix=f"{stage}/") for stage in STAGES}
        )
        # "disable": no per-step NaN check, which would wait for the device every step.
        self.losses = nn.ModuleDict(
            {f"{stage}_loss": MeanMetric(nan_strategy="disable") for stage in STAGES}
        )
        # Training batches (one loss per example, outputs, targets) not yet in the metrics.
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def build_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def loss(self, outputs: Outputs, targets: torch.Tensor) -> torch.Tensor:
        """The model's own ``loss(outputs, targets)`` when it has one, else the configured
        loss of its prediction (the first output when it returns several)."""
        if self.model_has_loss:
            return self.model.loss(outputs, targets)
        return self.criterion(prediction(outputs), targets)

    def example_targets(self, predicted: torch.Tensor) -> torch.Tensor:
        """Targets of the data's kind for a batch of predictions (zeros)."""
        return torch.zeros_like(predicted)

    def check_loss(self, outputs: Outputs) -> None:
        """Compute the loss once on ``check_forward``'s outputs, so a loss that cannot take
        this data (class weights for 3 classes of 10) fails before the run writes anything."""
        try:
            with torch.no_grad():
                self.loss(outputs, self.example_targets(prediction(outputs)))
        except SHAPE_ERRORS as error:
            model = type(self.model).__name__
            name = f"{model}.loss" if self.model_has_loss else name_of(self.criterion)
            raise ConfigError(f"loss {name} fails on this data: {describe(error)}") from None

    def metric_inputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """What the metrics compare with the targets."""
        return outputs

    def test_figures(self) -> dict[str, Figure]:
        """Figures of the last test epoch (e.g. a confusion matrix), by file stem.

        The plotting callback saves them as PNG in the run folder and logs them as images.
        """
        return {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Some data choose their task from their config (a label column or not), so the
        # checkpoint itself says which task rebuilds it.
        checkpoint[TASK_KIND] = self.kind
        # What the run reports for the best checkpoint (pipelines/train.py), not the last
        # epoch's: ModelCheckpoint saves right after the validation epoch it judged.
        if self._trainer is not None:
            checkpoint[VAL_METRICS] = {
                name: float(value)
                for name, value in self.trainer.callback_metrics.items()
                if name.startswith("val/")
            }
        # The fitted preprocessing, as plain values: the checkpoint alone serves raw inputs.
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is not None and datamodule.preprocessing is not None:
            checkpoint[PREPROCESSING] = datamodule.preprocessing.to_dict()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return prediction(self.model(x))

    def step(self, batch: Sequence[torch.Tensor], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and model outputs of one batch, recorded in the stage's loss mean and metrics."""
        loss, outputs = self.loss_and_outputs(batch)
        self.record(stage, loss, outputs, batch[1])
        return loss, outputs

    def loss_and_outputs(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss of one batch and the model's prediction for it."""
        inputs, targets = batch
        outputs = self.model(inputs)
        return self.loss(outputs, targets), prediction(outputs)

    def record(
        self, stage: str, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor
    ) -> None:
        """Add one batch to the stage's loss mean and metrics.

        They accumulate on the device. Validation and test log them as metric objects at
        their first batch; Lightning computes and resets them at the epoch's end, before any
        epoch-end hook reads them. Training computes, logs and resets them itself at the
        epoch's last batch (``on_train_batch_end``): once anything is logged Lightning does
        bookkeeping for it on every step, and logging a metric object costs it more than a
        small model's step (benchmark.py). Training batches wait in ``pending`` and are
        added ``trainer.log_every_n_steps`` at a time: a torchmetrics update costs the same
        whatever the batch size, a fifth of a small model's step.
        """
        # One value per example, so the epoch mean weighs batches by their size: with
        # nan_strategy="disable" torchmetrics 1.9 ignores a `weight` argument.
        losses = loss.detach().expand(len(targets))
        if stage == "train":
            self.pending.append((losses, outputs.detach(), targets))
            return
        first_batch = self.losses[f"{stage}_loss"].update_count == 0
        self.update_metrics(stage, losses, outputs.detach(), targets)
        if first_batch:
            mean_loss, metrics = self.losses[f"{stage}_loss"], self.metrics[f"{stage}_metrics"]
            self.log(f"{stage}/loss", mean_loss, on_step=False, on_epoch=True, prog_bar=True)
            self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=True)

    def update_metrics(
        self, stage: str, losses: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor
    ) -> None:
        """Add examples to the stage's loss mean (one loss each) and metrics."""
        self.losses[f"{stage}_loss"].update(losses)
        self.metrics[f"{stage}_metrics"].update(self.metric_inputs(outputs), targets)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Before the epoch ends: Lightning computes the epoch's metrics before any hook.
        last = ends_epoch(self.trainer, batch_idx)
        if self.pending and (last or len(self.pending) >= self.trainer.log_every_n_steps):
            losses, outputs, targets = (torch.cat(part) for part in zip(*self.pending, strict=True))
            self.pending.clear()
            self.update_metrics("train", losses, outputs, targets)
        # An epoch whose every batch was skipped (nonfinite_loss=skip) has nothing to log.
        if last and self.losses["train_loss"].update_count:
            mean_loss, metrics = self.losses["train_loss"], self.metrics["train_metrics"]
            # compute() gathers across processes: every process reaches this batch.
            loss = mean_loss.compute()
            self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
            self.log_dict(metrics.compute(), on_step=False, on_epoch=True, batch_size=1)
            mean_loss.reset()
            metrics.reset()

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss, outputs = self.loss_and_outputs(batch)
        if self.hparams.nonfinite_loss == "skip" and not torch.isfinite(loss):
            rank_zero_warn(
                f"skipped the batch: train/loss is {loss.item()} at step {self.global_step} "
                f"(epoch {self.current_epoch})"
            )
            # Neither the epoch's metrics nor the weights see it: Lightning skips backward
            # and the optimizer step for a None loss.
            return None
        self.record("train", loss, outputs, batch[1])
        return loss

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "val")[0]

    def configure_callbacks(self) -> list[L.Callback]:
        # Whatever trainer tests the task, one collector keeps the test outputs that the
        # figures, test_predictions.csv and channel_metrics.csv read.
        return [CollectTestOutputs()]

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        # The outputs are for callbacks: CollectTestOutputs keeps them in the user's units.
        loss, outputs = self.step(batch, "test")
        return {"loss": loss, "outputs": outputs.detach()}

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, list | tuple) else batch
        return self(inputs)

    def configure_optimizers(self) -> Any:
        optimizer = instantiate(self.hparams.optimizer, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        options = dict(self.hparams.scheduler)
        scheduler_config = dict(options.pop("scheduler"))
        # Step-based schedules span the whole run, which only the trainer knows.
        if "total_steps" in scheduler_config and scheduler_config["total_steps"] is None:
            scheduler_config["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = instantiate(scheduler_config, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **options}}
