"""Lightning's finders before fitting: ``tune.batch_size=true``, ``tune.lr=true``."""

import lightning as L
from lightning.pytorch.tuner import Tuner
from omegaconf import DictConfig

from ..data.base import DataModule
from ..tasks import Task
from ..utils.console import console


def tune(
    cfg: DictConfig, trainer: L.Trainer, task: Task, datamodule: DataModule
) -> dict[str, float]:
    """Set the batch size and learning rate the finders suggest; returns what changed.

    Both land in the task's hyper-parameters and in ``cfg`` (``data.batch_size``,
    ``optimizer.lr``), so the checkpoint, the run's config and the loggers record the values
    the run trained with.

    The batch size doubles (``mode: power``) from ``data.batch_size`` until memory runs
    out, ``max_trials`` sizes are tried, or the next size would leave fewer than
    ``min_steps_per_epoch`` optimizer steps per epoch: on a GPU, the largest batch that fits
    and still trains. The learning rate comes from a range test of ``num_training`` steps
    from ``min_lr`` to ``max_lr``.
    """
    options = cfg.get("tune") or {}
    if not (options.get("batch_size") or options.get("lr")):
        return {}
    # The finders' fits run without the run's loggers: Lightning finalizes the loggers after
    # each, and TensorBoard then writes its hparams.yaml, once, before any value is tuned.
    loggers, trainer.loggers = trainer.loggers, []
    try:
        tuned = _find(options, trainer, task, datamodule)
    finally:
        trainer.loggers = loggers
    if not tuned:
        return tuned
    for key, value in tuned.items():
        group = "data" if key == "batch_size" else "optimizer"
        task.hparams[group][key] = cfg[group][key] = value
    # Re-freezes ``hparams_initial``, what Lightning sends the loggers when fitting starts.
    task.save_hyperparameters(task.hparams)
    if trainer.is_global_zero:
        console.print("tuned: " + ", ".join(f"{name}={value:g}" for name, value in tuned.items()))
    return tuned


def _find(
    options: DictConfig, trainer: L.Trainer, task: Task, datamodule: DataModule
) -> dict[str, float]:
    """What the finders suggest: ``batch_size`` and ``lr``, each when asked and found."""
    tuner = Tuner(trainer)
    tuned: dict[str, float] = {}
    if options.get("batch_size"):
        doublings = _doublings_allowed(options, trainer, datamodule)
        if doublings > 0:
            found = tuner.scale_batch_size(
                task,
                datamodule=datamodule,
                mode="power",
                steps_per_trial=options.steps_per_trial,
                init_val=datamodule.batch_size,
                max_trials=min(options.max_trials, doublings + 1),
            )
            if found is not None:  # None: skipped under trainer.fast_dev_run
                tuned["batch_size"] = found
        else:
            console.print(
                f"[yellow]tune.batch_size: a larger batch than {datamodule.batch_size} would "
                f"leave fewer than {options.min_steps_per_epoch} steps per epoch; unchanged"
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
            tuned["lr"] = float(suggestion)
    return tuned


def _doublings_allowed(options: DictConfig, trainer: L.Trainer, datamodule: DataModule) -> int:
    """How often ``data.batch_size`` may double and still give ``min_steps_per_epoch``
    optimizer steps per epoch (-1: it gives fewer already).

    Lightning's finder grows the batch until memory runs out, which on a small data set
    leaves one step per epoch (and starves the learning-rate finder); its ``max_val`` is
    returned untried in power mode. So the trials are counted here instead.
    """
    batches = options.min_steps_per_epoch * trainer.accumulate_grad_batches
    samples = len(datamodule.splits[0])
    # The largest batch that still makes ``batches`` batches (the last one may be partial).
    largest = -(-samples // (batches - 1)) - 1 if batches > 1 else samples
    return (largest // datamodule.batch_size).bit_length() - 1
