"""A run's config: saved before training, reloaded by resume, eval, predict and export."""

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

CONFIG = "config.yaml"
RESOLVED_CONFIG = "config.resolved.yaml"
CHOICES = "choices.yaml"


def save_config(cfg: DictConfig, run_dir: Path) -> None:
    """config.yaml keeps interpolations (resume re-resolves them with new overrides);
    config.resolved.yaml records every value exactly as this run used it; choices.yaml the
    option each config group got (``model: cnn``), which the config itself no longer names."""
    (run_dir / CONFIG).write_text(OmegaConf.to_yaml(cfg))
    (run_dir / RESOLVED_CONFIG).write_text(OmegaConf.to_yaml(cfg, resolve=True))
    if HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
        groups = {group: choices[group] for group in choices if not group.startswith("hydra/")}
        (run_dir / CHOICES).write_text(OmegaConf.to_yaml(groups))


def load_config(run_dir: Path) -> DictConfig:
    path = run_dir / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no {CONFIG}: it is not a run folder of this project")
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
    return cfg


def command_line_overrides(exclude: set[str]) -> list[str]:
    return [
        o for o in HydraConfig.get().overrides.task if o.split("=")[0].lstrip("+~") not in exclude
    ]


def apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """Apply ``key=value`` overrides to a saved config; config groups cannot change."""
    groups = set(HydraConfig.get().runtime.choices)
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key in groups:
            raise ConfigError(
                f"'{override.input_line}' changes the config group {key!r}, but a resumed run "
                f"keeps its own {key}; set single values (e.g. {key}.<name>=...) or start a new run"
            )
        if override.is_delete():
            OmegaConf.update(cfg, key, None, force_add=True)
            continue
        value: Any = override.value()
        OmegaConf.update(
            cfg, key, value, merge=False, force_add=override.is_add() or override.is_force_add()
        )
    return cfg


def to_container(cfg: Any) -> Any:
    """Plain Python values (resolved) from an OmegaConf node, for checkpoints and loggers."""
    if isinstance(cfg, DictConfig) or OmegaConf.is_list(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg
