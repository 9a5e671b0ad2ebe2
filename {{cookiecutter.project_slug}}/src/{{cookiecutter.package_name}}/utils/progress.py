"""The console's progress bar, redrawn at most a few times a second."""

import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar, redrawn at most ``per_second`` times a second.

    Lightning's own reads every logged metric and redraws the bar after each training
    batch, whatever its ``refresh_rate``, and twice more each epoch: on a small model's
    millisecond step that is a tenth of the step, for more redraws than anyone can read.
    The bar still counts every epoch's last batch, and stopping it draws its last state.
    """

    def __init__(self, per_second: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = 1.0 / per_second
        self.drawn_at = float("-inf")

    def due(self) -> bool:
        return time.monotonic() - self.drawn_at >= self.interval

    def refresh(self, hard: bool = False) -> None:
        if hard or self.due():
            self.drawn_at = time.monotonic()
            super().refresh(hard=hard)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.due() or batch_idx + 1 >= self.total_train_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
