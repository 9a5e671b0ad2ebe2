"""The loss a task trains with, built from the ``loss`` config group (``configs/loss/``)."""

import functools
from collections.abc import Callable
from typing import Any

import torch
from hydra.utils import get_object
from torch import nn

from ..models.losses import FocalLoss
from ..models.shapes import describe
from ..utils.errors import ConfigError

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# The kind of data each of configs/loss/'s losses fits, so `loss=mse` on classification data
# fails before the run starts rather than at its first step (or, worse, trains). A loss not
# listed here (one of yours) is trusted to fit.
KINDS: dict[type, str] = {
    nn.CrossEntropyLoss: "classification",
    nn.NLLLoss: "classification",
    FocalLoss: "classification",
    nn.BCEWithLogitsLoss: "multilabel",
    nn.MSELoss: "regression",
    nn.L1Loss: "regression",
    nn.HuberLoss: "regression",
    nn.SmoothL1Loss: "regression",
}


def build_loss(config: dict[str, Any] | None, kind: str, default: str) -> LossFunction:
    """The configured loss, or ``default`` (the data kind's) when its ``_target_`` is null.

    A class is built from the config's other keys, a function is called with them as keyword
    arguments; lists among them (class weights) become float tensors.
    """
    options = dict(config or {})
    target = options.pop("_target_", None) or default
    options = {
        key: torch.tensor(value, dtype=torch.float32) if isinstance(value, list) else value
        for key, value in options.items()
    }
    try:
        loss = get_object(target)
    except (ImportError, AttributeError, ValueError) as error:
        reason = str(error.__cause__ or error).splitlines()[0]
        raise ConfigError(f"loss._target_={target} cannot be imported: {reason}") from None
    if not isinstance(loss, type):
        return functools.partial(loss, **options)
    fits = next((fits for kind_of, fits in KINDS.items() if issubclass(loss, kind_of)), kind)
    if fits != kind:
        raise ConfigError(
            f"loss {loss.__name__} is for {fits} data, but this data is {kind}; "
            f"use loss=auto (the data's default) or a {kind} loss from configs/loss/"
        )
    try:
        return loss(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"loss {loss.__name__} refuses its config: {describe(error)}") from None


def name_of(loss: LossFunction) -> str:
    """What a message calls a loss: ``HuberLoss``, ``offset_cross_entropy``."""
    function = getattr(loss, "func", loss)  # a function given its config's values
    return getattr(function, "__name__", type(function).__name__)
