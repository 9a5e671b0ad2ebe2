"""Lightning's finders before fitting: ``tune.batch_size=true``, ``tune.lr=true``."""

import lightning as L
from lightning.pytorch.tuner import Tuner
from omegaconf import DictConfig

from ..data.base import DataModule
from ..tasks import Task
from ..utils.console import console


def tune(cfg: DictConfig, trainer: L.Trainer, task: Task, datamodule: DataModule) -> dict:
    """Set the batch size and learning rate the finders suggest; returns what changed.

    Both land in the task's hyper-parameters too, so the checkpoint records the values
    the run trained with.

    The batch size doubles (``mode: power``) from ``data.batch_size`` until memory runs
    out or ``max_trials`` sizes are tried: on a GPU, the largest batch that fits. The learning
    rate comes from a range test of ``num_training`` steps from ``min_lr`` to ``max_lr``.
    """
    options = cfg.get("tune") or {}
    tuned: dict[str, float] = {}
    if not (options.get("batch_size") or options.get("lr")):
        return tuned
    tuner = Tuner(trainer)
    if options.get("batch_size"):
        task.hparams.data["batch_size"] = tuned["batch_size"] = tuner.scale_batch_size(
            task,
            datamodule=datamodule,
            mode="power",
            steps_per_trial=options.steps_per_trial,
            init_val=datamodule.batch_size,
            max_trials=options.max_trials,
        )
    if options.get("lr"):
        finder = tuner.lr_find(
            task,
            datamodule=datamodule,
            min_lr=options.min_lr,
            max_lr=options.max_lr,
            num_training=options.num_training,
            update_attr=False,
        )
        suggestion = finder.suggestion() if finder is not None else None
        if suggestion is None:
            console.print("[yellow]tune.lr: no suggestion (too few steps); lr unchanged")
        else:
            task.hparams.optimizer["lr"] = tuned["lr"] = suggestion
    if tuned and trainer.is_global_zero:
        console.print("tuned: " + ", ".join(f"{name}={value:g}" for name, value in tuned.items()))
    return tuned
