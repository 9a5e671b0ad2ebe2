"""Objects from config: data, task, callbacks, loggers and the trainer."""

from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch import callbacks
from omegaconf import DictConfig

from ..data.base import DataModule
from ..tasks import Task, task_class
from ..utils.callbacks import RandomStateCheckpoint
from ..utils.config import to_container


def build_data(data_cfg: Any) -> DataModule:
    datamodule = instantiate(data_cfg)
    if not isinstance(datamodule, DataModule):
        raise TypeError(
            f"data {data_cfg.get('_target_')} is not a {DataModule.__module__}.DataModule"
        )
    return datamodule


def build_task(cfg: DictConfig, datamodule: DataModule) -> Task:
    """The task the data's kind calls for, around the configured model."""
    return task_class(datamodule.task)(
        model=to_container(cfg.model),
        data=to_container(cfg.data),
        optimizer=to_container(cfg.optimizer),
        scheduler=to_container(cfg.scheduler) if cfg.scheduler.get("scheduler") else None,
        input_shape=list(datamodule.input_shape),
        num_outputs=datamodule.num_outputs,
        class_names=datamodule.class_names,
    )


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node and "_target_" in node]


def _switched_off(callback: L.Callback, trainer_cfg: DictConfig, has_logger: bool) -> bool:
    """Lightning refuses these callbacks when the trainer flag (or logger) they need is off,
    so one flag such as ``trainer.enable_progress_bar=false`` is enough to drop them."""
    flags = {
        callbacks.ProgressBar: "enable_progress_bar",
        callbacks.ModelSummary: "enable_model_summary",
        callbacks.ModelCheckpoint: "enable_checkpointing",
    }
    for kind, flag in flags.items():
        if isinstance(callback, kind) and trainer_cfg.get(flag) is False:
            return True
    return isinstance(callback, callbacks.LearningRateMonitor) and not has_logger


def build_trainer(cfg: DictConfig, **overrides: Any) -> L.Trainer:
    loggers = _instantiate_all(cfg.get("logger"))
    trainer_cfg = DictConfig({**cfg.trainer, **overrides})
    callback_list = [
        callback
        for callback in _instantiate_all(cfg.get("callbacks"))
        if not _switched_off(callback, trainer_cfg, bool(loggers))
    ]
    callback_list.append(RandomStateCheckpoint())
    for logger in loggers:
        logger.log_hyperparams(to_container(cfg))
    return instantiate(cfg.trainer, callbacks=callback_list, logger=loggers or False, **overrides)
