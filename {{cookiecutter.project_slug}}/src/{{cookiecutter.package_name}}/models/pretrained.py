"""Transfer learning: any torchvision classifier, its head replaced for this data."""

from collections.abc import Sequence

from torch import nn

from ..utils.errors import ConfigError, UserError
from .shapes import IncompatibleInput


class MissingExtra(UserError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def replace_head(model: nn.Module, num_outputs: int) -> nn.Module:
    """Swap the last linear layer (``fc`` of a ResNet, ``classifier[-1]``, ``heads.head``...)."""
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"{type(model).__name__} has no linear head to replace")
    name, head = linears[-1]
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent), attribute, nn.Linear(head.in_features, num_outputs))
    return model


def torchvision_classifier(
    input_shape: Sequence[int],
    num_outputs: int,
    name: str = "resnet18",
    weights: str | None = None,
) -> nn.Module:
    """``torchvision.models.get_model(name, weights=weights)`` with a new head.

    ``weights`` names pretrained weights (``DEFAULT``, ``IMAGENET1K_V1``...), downloaded on
    first use; ``None`` starts from random ones. Images with other than three channels
    pass through a learned 1x1 convolution first, so pretrained filters still apply.
    """
    try:
        import torchvision
    except ImportError as error:
        raise MissingExtra(f"model {name} needs torchvision: pip install '.[vision]'") from error
    if len(input_shape) != 3:
        raise IncompatibleInput(f"it needs images (C, H, W), got {tuple(input_shape)}")
    model = replace_head(torchvision.models.get_model(name, weights=weights), num_outputs)
    channels = input_shape[0]
    return model if channels == 3 else nn.Sequential(nn.Conv2d(channels, 3, 1), model)
