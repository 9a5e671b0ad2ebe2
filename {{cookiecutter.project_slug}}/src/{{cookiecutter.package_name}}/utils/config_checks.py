"""Type and range checks for the values people override most, before anything is built.

Hydra accepts ``trainer.max_epochs=abc`` or ``data.batch_size=0``; torch and Lightning would
fail much later, after the run folder is written, with a long traceback. A schema for every
Trainer argument would copy Lightning's own defaults, so only the values people set by hand
most are checked here, with the ranges torch and Lightning accept.
"""

from collections.abc import Callable
from typing import NamedTuple

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError


class Rule(NamedTuple):
    accepts: Callable[[object], bool]
    expected: str  # completes "must be ..."
    example: str


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_integer(value) or isinstance(value, float)


def integer(minimum: int | None = None, example: str = "10", note: str = "") -> Rule:
    def accepts(value: object) -> bool:
        return _is_integer(value) and (minimum is None or value >= minimum)

    bound = "" if minimum is None else f" >= {minimum}"
    return Rule(accepts, f"an integer{bound}{note}", example)


def number(
    example: str,
    above: float | None = None,
    minimum: float | None = None,
    below: float | None = None,
) -> Rule:
    """A number in a range: ``> above``, ``>= minimum``, ``< below`` (each optional)."""

    def accepts(value: object) -> bool:
        return (
            _is_number(value)
            and (above is None or value > above)
            and (minimum is None or value >= minimum)
            and (below is None or value < below)
        )

    bounds = [
        f"{sign} {limit:g}"
        for sign, limit in ((">", above), (">=", minimum), ("<", below))
        if limit is not None
    ]
    return Rule(accepts, " ".join(["a number", " and ".join(bounds)]).strip(), example)


def integer_list(minimum: int, example: str) -> Rule:
    def accepts(value: object) -> bool:
        return isinstance(value, ListConfig | list | tuple) and all(
            _is_integer(item) and item >= minimum for item in value
        )

    return Rule(accepts, f"a list of integers >= {minimum}", example)


BOOLEAN = Rule(lambda value: isinstance(value, bool), "true or false", "true")

RULES: dict[str, Rule] = {
    "seed": integer(example="42"),
    "trainer.max_epochs": integer(-1, note=" (-1: no limit)"),
    "trainer.min_epochs": integer(0, "1"),
    "trainer.max_steps": integer(-1, "1000", " (-1: no limit)"),
    # The cosine schedule's length, trainer.max_epochs by default: -1 or 0 would make the
    # learning rate jump between its extremes (or divide by zero).
    "scheduler.scheduler.T_max": integer(
        1, "30", " (the cosine schedule's epochs; with trainer.max_epochs=-1 choose another)"
    ),
    "trainer.num_nodes": integer(1, "2"),
    "trainer.accumulate_grad_batches": integer(1, "4"),
    "trainer.log_every_n_steps": integer(1, "50"),
    "trainer.check_val_every_n_epoch": integer(1, "1"),
    "trainer.num_sanity_val_steps": integer(-1, "2", " (-1: all)"),
    "data.batch_size": integer(1, "64"),
    "data.num_workers": integer(0, "4"),
    "trainer.gradient_clip_val": number("1.0", minimum=0),
    "optimizer.lr": number("0.001", above=0),
    "optimizer.weight_decay": number("0.01", minimum=0),
    "model.dropout": number("0.1", minimum=0, below=1),
    "model.hidden_sizes": integer_list(1, "[256,128]"),
    # export.py's tolerances (torch.allclose refuses negative ones with a traceback).
    "atol": number("1e-5", minimum=0),
    "rtol": number("1e-6", minimum=0),
    "test": BOOLEAN,
    "compile": BOOLEAN,
    "trainer.deterministic": BOOLEAN,
    "trainer.enable_progress_bar": BOOLEAN,
    "data.pin_memory": BOOLEAN,
}


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first checked key whose value is of the wrong type or
    out of range; keys absent from the config (or null) are not checked."""
    for key, rule in RULES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None and not rule.accepts(value):
            raise ConfigError(f"{key}={value!r} must be {rule.expected}, e.g. {key}={rule.example}")
