"""Pictures of a run: learning curves after fitting, the task's test figures after testing."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
from matplotlib.figure import Figure

from .loggers import log_image
from .plots import learning_curves

if TYPE_CHECKING:
    from ..tasks.base import Task


class PlotCallback(L.Callback):
    """Save figures as PNG in ``dirpath`` and log them to every logger that shows images.

    The learning curves come from the callback's own per-epoch history of
    ``trainer.callback_metrics``, so they need no logger; the history is saved with the
    checkpoint, so a resumed run draws the epochs before it too.
    """

    def __init__(self, dirpath: str, dpi: int = 100) -> None:
        self.dirpath = Path(dirpath)
        self.dpi = dpi
        self.history: list[dict[str, float]] = []

    def _record(self, trainer: L.Trainer, prefix: str) -> None:
        if trainer.sanity_checking:
            return
        if not self.history or self.history[-1]["epoch"] != trainer.current_epoch:
            self.history.append({"epoch": trainer.current_epoch})
        self.history[-1].update(
            {
                name: float(value)
                for name, value in trainer.callback_metrics.items()
                if name.startswith(prefix) and value.numel() == 1
            }
        )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, "val/")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, "train/")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.history:
            self.publish(trainer, "learning_curves", learning_curves(self.history))

    def on_test_end(self, trainer: L.Trainer, pl_module: "Task") -> None:
        if trainer.is_global_zero:
            for name, figure in pl_module.test_figures().items():
                self.publish(trainer, name, figure)

    def publish(self, trainer: L.Trainer, name: str, figure: Figure) -> Path:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"{name}.png"
        figure.savefig(path, dpi=self.dpi)
        for logger in trainer.loggers:
            log_image(logger, f"plots/{name}", path, step=trainer.global_step)
        return path

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])
