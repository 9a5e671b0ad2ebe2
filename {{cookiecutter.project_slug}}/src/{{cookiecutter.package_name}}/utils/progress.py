"""The console's progress bar, redrawn at most a few times a second."""

import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar, redrawn at most ``per_second`` times a second.

    Lightning's own redraws the bar and reads every logged metric after each training
    batch, whatever its ``refresh_rate``: on a small model's millisecond step that is a
    tenth of the step, for more redraws than anyone can read. The epoch's last batch is
    always drawn.
    """

    def __init__(self, per_second: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = 1.0 / per_second
        self.drawn_at = float("-inf")

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        now = time.monotonic()
        if now - self.drawn_at >= self.interval or batch_idx + 1 >= self.total_train_batches:
            self.drawn_at = now
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
