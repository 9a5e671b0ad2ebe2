"""Callbacks the engine always adds; the optional ones live in configs/callbacks."""

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ..data.preprocessing import FILE as PREPROCESSING_FILE
from ..pipelines.inference import write_predictions
from .loggers import RunCSVLogger
from .runs import has_checkpoint, point_latest
from .tested_outputs import collected_test_outputs


class RandomStateCheckpoint(L.Callback):
    """Save and restore every random generator with the checkpoint.

    Lightning's checkpoints omit them, so a resumed run would shuffle and drop out
    differently from an uninterrupted one. Stored as tensors and tuples of ints, which
    ``torch.load(weights_only=True)`` accepts.
    """

    def state_dict(self) -> dict[str, Any]:
        name, keys, position, has_gauss, cached = np.random.get_state()
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(state_dict["python"])
        name, keys, position, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class LogParameterCounts(L.Callback):
    """Total and trainable parameter counts, as hyper-parameters of every logger, so runs
    can be compared by model size."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        parameters = list(pl_module.parameters())
        counts = {
            "total": sum(p.numel() for p in parameters),
            "trainable": sum(p.numel() for p in parameters if p.requires_grad),
        }
        for logger in trainer.loggers:
            logger.log_hyperparams({"parameters": counts})


class InterruptCheckpoint(L.Callback):
    """On SIGTERM (preemption) or Ctrl+C, save the current step as ``last.ckpt``.

    ``resume=latest`` then continues from that step. Other exceptions (a bug, a NaN) save
    nothing, so the last good checkpoint is never overwritten by a broken state.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        # Only a fit has a newer state than its checkpoints: the test after it loads
        # best.ckpt, which must not become last.ckpt.
        fitting = trainer.state.fn == TrainerFn.FITTING
        if fitting and isinstance(exception, SIGTERMException | KeyboardInterrupt):
            trainer.save_checkpoint(self.path)


class ResumedMetricHistory(L.Callback):
    """A resumed run logs again from its checkpoint's step: rows the interrupted run logged
    after that checkpoint (a killed run's unfinished epoch) would otherwise appear twice."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.ckpt_path and trainer.is_global_zero:
            for logger in trainer.loggers:
                if isinstance(logger, RunCSVLogger):
                    logger.experiment.discard_from(trainer.global_step)


class PointLatest(L.Callback):
    """Point ``<log_dir>/<task_name>/latest`` at this run once it has a checkpoint, so
    ``resume=latest`` and ``run=latest`` never find a run without one.

    Lightning has no hook after a checkpoint is written (ModelCheckpoint saves after every
    other callback's ``on_validation_end``), so this looks when fitting starts (a resumed
    run), when validation starts and when an epoch ends (after the previous validation's
    checkpoints), when fitting ends (a run without validation saves at epoch end, after
    this callback) and after an interrupt saved ``last.ckpt``.
    """

    def __init__(self, log_dir: str, task_name: str, run_dir: Path) -> None:
        self.log_dir, self.task_name, self.run_dir = log_dir, task_name, run_dir
        self.pointed = False

    def point(self, trainer: L.Trainer) -> None:
        if not self.pointed and trainer.is_global_zero and has_checkpoint(self.run_dir):
            point_latest(self.log_dir, self.task_name, self.run_dir)
            self.pointed = True

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.point(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.point(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.point(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.point(trainer)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.point(trainer)


class SavePreprocessing(L.Callback):
    """Write the data's fitted preprocessing to ``preprocessing.json`` in the run folder as
    fitting starts: what the model expects of raw inputs, readable without the checkpoint."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / PREPROCESSING_FILE

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preprocessing = trainer.datamodule.preprocessing if trainer.datamodule else None
        if trainer.is_global_zero and preprocessing is not None:
            preprocessing.save(self.path)


class WriteTestPredictions(L.Callback):
    """Write ``test_predictions.csv``: every tested example's key (``test_keys``) and the
    model's outputs in the user's units, with the columns of predict.py's predictions.csv,
    so a user can join the experiment's test predictions with their own predictions."""

    FILE = "test_predictions.csv"

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / self.FILE

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        collected = collected_test_outputs(trainer)
        datamodule = trainer.datamodule
        if collected is None or datamodule is None or not datamodule.preprocessing:
            return
        keys, outputs = datamodule.test_keys(), collected.get("outputs")
        if not keys or outputs is None or not trainer.is_global_zero:
            return
        sources, indices = keys
        # trainer.limit_test_batches tests only the first examples.
        count = min(len(outputs), len(sources))
        write_predictions(
            self.path, datamodule.preprocessing, sources[:count], indices[:count], outputs[:count]
        )
