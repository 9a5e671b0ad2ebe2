"""One flag each for speed: TF32 matmuls and torch.compile (mixed precision is
``trainer=amp``, resolved in utils/resolvers.py)."""

import lightning as L
import torch
from omegaconf import DictConfig
from torch import nn

from ..utils.errors import ConfigError

MATMUL_PRECISIONS = ("highest", "high", "medium")


def set_matmul_precision(precision: str | None) -> None:
    """``highest`` keeps float32 matmuls exact; ``high``/``medium`` allow TF32/bf16 on GPUs."""
    if precision is None:
        return
    if precision not in MATMUL_PRECISIONS:
        # torch only warns, and keeps its default, on an unknown value.
        raise ConfigError(
            f"matmul_precision={precision!r} is not one of {', '.join(MATMUL_PRECISIONS)} (or null)"
        )
    torch.set_float32_matmul_precision(precision)


def compile_model(model: nn.Module) -> None:
    """Compile the researcher's model in place.

    ``nn.Module.compile`` keeps the module and its parameter names as they are, so checkpoints
    of a compiled run load into an uncompiled model (eval, predict, export) unchanged. The
    task's metrics and logging stay eager: they are not worth compiling.
    """
    model.compile()


class CompileModel(L.Callback):
    """Compiles the task's model when training starts, not before.

    Lightning's model summary runs the model once under a FLOP counter as fitting starts;
    a compiled model called there is marked not compilable by dynamo and would silently
    stay eager for the whole run.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        compile_model(pl_module.model)


def apply_speed_flags(cfg: DictConfig, trainer: L.Trainer) -> None:
    set_matmul_precision(cfg.get("matmul_precision"))
    if cfg.get("compile"):
        trainer.callbacks.append(CompileModel())
