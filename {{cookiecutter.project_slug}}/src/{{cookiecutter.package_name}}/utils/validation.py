"""Type checks for the values people override most, before anything is built.

Hydra accepts ``trainer.max_epochs=abc`` as a string; Lightning would fail much later with
a traceback. A schema for every Trainer argument would copy Lightning's own defaults, so
only the values whose type matters are checked here.
"""

from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

INTEGERS = (
    "seed",
    "trainer.max_epochs",
    "trainer.min_epochs",
    "trainer.max_steps",
    "trainer.num_nodes",
    "trainer.accumulate_grad_batches",
    "trainer.log_every_n_steps",
    "trainer.check_val_every_n_epoch",
    "trainer.num_sanity_val_steps",
    "data.batch_size",
    "data.num_workers",
)
NUMBERS = ("trainer.gradient_clip_val", "optimizer.lr", "optimizer.weight_decay")
BOOLEANS = (
    "test",
    "compile",
    "trainer.deterministic",
    "trainer.enable_progress_bar",
    "data.pin_memory",
)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_integer(value) or isinstance(value, float)


def _is_boolean(value: object) -> bool:
    return isinstance(value, bool)


CHECKS = (
    (INTEGERS, _is_integer, "an integer", "10"),
    (NUMBERS, _is_number, "a number", "0.001"),
    (BOOLEANS, _is_boolean, "true or false", "true"),
)


def validate(cfg: DictConfig) -> None:
    for keys, check, noun, example in CHECKS:
        for key in keys:
            value = OmegaConf.select(cfg, key)
            if value is not None and not check(value):
                raise ConfigError(f"{key}={value!r} must be {noun}, e.g. {key}={example}")
