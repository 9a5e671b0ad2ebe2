from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn
from torchmetrics import MetricCollection

STAGES = ("train", "val", "test")


class Task(L.LightningModule):
    """Training logic around any model: loss, metrics, optimisation and logging.

    Every argument is a plain value (configs as dicts), so ``save_hyperparameters`` keeps
    the checkpoint loadable with ``torch.load(weights_only=True)`` and the checkpoint
    alone rebuilds the model, the data and the optimiser.
    """

    def __init__(
        self,
        model: dict[str, Any],
        data: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        input_shape: Sequence[int],
        num_outputs: int,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model: nn.Module = instantiate(
            model, input_shape=tuple(input_shape), num_outputs=num_outputs
        )
        self.example_input_array = torch.zeros(2, *input_shape)
        metrics = self.build_metrics()
        self.metrics = nn.ModuleDict(
            {f"{stage}_metrics": metrics.clone(prefix=f"{stage}/") for stage in STAGES}
        )

    def build_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metric_inputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """What the metrics compare with the targets."""
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def step(self, batch: Sequence[torch.Tensor], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and model outputs of one batch, with the stage's metrics updated and logged."""
        inputs, targets = batch
        outputs = self(inputs)
        loss = self.loss(outputs, targets)
        metrics = self.metrics[f"{stage}_metrics"]
        metrics.update(self.metric_inputs(outputs.detach()), targets)
        # Epoch-level logging only: per-step values would force a device sync every step.
        self.log(
            f"{stage}/loss",
            loss.detach(),
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(inputs),
            sync_dist=True,
        )
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage != "train")
        return loss, outputs

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")[0]

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "val")[0]

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "test")[0]

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
