"""Objects from config: data, task, callbacks, loggers and the trainer."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch import callbacks
from omegaconf import DictConfig

from ..data.base import DataModule
from ..models.shapes import SHAPE_ERRORS, IncompatibleInput, check_forward, describe
from ..tasks import Task, task_class
from ..utils.callback_group import CallbackGroup
from ..utils.callbacks import (
    InterruptCheckpoint,
    LogParameterCounts,
    PointLatest,
    RandomStateCheckpoint,
    ResumedMetricHistory,
    SavePreprocessing,
    WriteTestPredictions,
)
from ..utils.channel_metrics import ChannelMetrics
from ..utils.checkpoints import AtomicCheckpointIO
from ..utils.config import to_container
from ..utils.errors import ConfigError, UserError
from ..utils.nan_guard import StopOnNonFiniteLoss
from ..utils.resume import ResumedPlanCheck
from ..utils.runs import LAST_CHECKPOINT


@contextmanager
def _plain_errors() -> Iterator[None]:
    """Hydra wraps a constructor's error in its own; raise the constructor's own error
    instead when it is bad input (a missing data.path, an absent package)."""
    try:
        yield
    except InstantiationException as error:
        if isinstance(error.__cause__, UserError):
            raise error.__cause__ from None
        raise


def _choice(cfg: DictConfig, group: str) -> str:
    """The option picked for a config group (``cnn``), or its class name outside Hydra."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return choices.get(group) or cfg[group]._target_.rsplit(".", 1)[-1]


def build_data(data_cfg: Any) -> DataModule:
    with _plain_errors():
        datamodule = instantiate(data_cfg)
    if not isinstance(datamodule, DataModule):
        raise TypeError(
            f"data {data_cfg.get('_target_')} is not a {DataModule.__module__}.DataModule"
        )
    return datamodule


def build_task(cfg: DictConfig, datamodule: DataModule) -> Task:
    """The task the data's kind calls for, around the configured model.

    The model is built for the data's shapes and run once on a batch of that shape (see
    ``models/shapes.py``), so a pair that does not fit, a user's own model too, fails here,
    before the run writes anything, with one sentence naming both; so does an optimizer
    that refuses its values.
    """
    input_shape, num_outputs = tuple(datamodule.input_shape), datamodule.num_outputs
    try:
        with _plain_errors():
            task = task_class(datamodule.kind)(
                model=to_container(cfg.model),
                data=to_container(cfg.data),
                optimizer=to_container(cfg.optimizer),
                scheduler=to_container(cfg.scheduler) if cfg.scheduler.get("scheduler") else None,
                input_shape=list(input_shape),
                num_outputs=num_outputs,
                class_names=datamodule.class_names,
                nonfinite_loss=cfg.get("nonfinite_loss", "stop"),
                loss=to_container(cfg.loss) if cfg.get("loss") else None,
            )
        task.check_loss(check_forward(task.model, input_shape, num_outputs))
    except IncompatibleInput as error:
        model, data = _choice(cfg, "model"), _choice(cfg, "data")
        raise IncompatibleInput(f"model {model} cannot read data {data}: {error}") from None
    except InstantiationException as error:
        if not isinstance(error.__cause__, SHAPE_ERRORS):
            raise
        model, data = _choice(cfg, "model"), _choice(cfg, "data")
        raise IncompatibleInput(
            f"model {model} cannot be built for data {data} (inputs of shape {input_shape}, "
            f"{num_outputs} outputs): {describe(error.__cause__)}"
        ) from None
    _check_optimizer(cfg, task)
    return task


def _check_optimizer(cfg: DictConfig, task: Task) -> None:
    """Build the optimizer once as the fit will (torch checks its values: lr, betas,
    momentum...), so a bad value fails before the run writes anything."""
    try:
        with _plain_errors():
            instantiate(cfg.optimizer, params=task.parameters())
    except InstantiationException as error:
        if not isinstance(error.__cause__, ValueError | TypeError):
            raise
        raise ConfigError(
            f"optimizer {_choice(cfg, 'optimizer')} refuses its config: {describe(error.__cause__)}"
        ) from None


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
    engine: list[L.Callback] = [
        RandomStateCheckpoint(),
        LogParameterCounts(),
        InterruptCheckpoint(Path(cfg.paths.output_dir) / LAST_CHECKPOINT),
        ResumedPlanCheck(),
        PointLatest(cfg.paths.log_dir, cfg.task_name, Path(cfg.paths.output_dir)),
        ResumedMetricHistory(),
        SavePreprocessing(Path(cfg.paths.output_dir)),
        WriteTestPredictions(Path(cfg.paths.output_dir)),
        ChannelMetrics(Path(cfg.paths.output_dir)),
    ]
    if cfg.get("nonfinite_loss", "stop") == "stop":
        # On with callbacks=none too: a diverging smoke test or benchmark must fail, not
        # pass on NaN weights. nonfinite_loss=ignore is its one switch.
        engine.append(StopOnNonFiniteLoss())
    callback_list.append(CallbackGroup(engine))
    configured_plugins = trainer_cfg.get("plugins")
    plugins = [
        AtomicCheckpointIO(Path(cfg.paths.output_dir)),
        *(instantiate(configured_plugins) or []),
    ]
    return instantiate(
        cfg.trainer, callbacks=callback_list, logger=loggers or False, plugins=plugins, **overrides
    )
