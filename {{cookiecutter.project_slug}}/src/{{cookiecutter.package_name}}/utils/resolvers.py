import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .runs import run_dir_resolver, sweep_dir_resolver
from .studies import trial_folder


def sqlite_url(path: str) -> str:
    """An SQLAlchemy URL for a database file, its folder made: sqlite creates only the file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def mixed_precision(accelerator: str) -> str:
    """``trainer.precision`` of ``trainer=amp``: bf16 where the device has it, else float16.

    torch is imported only when a run resolves its config, never while ``--help`` or
    ``--cfg job`` compose one.
    """
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        # float16 needs loss scaling, which Lightning's 16-mixed adds; bf16 does not.
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if accelerator == "mps" or (accelerator == "auto" and torch.backends.mps.is_available()):
        return "16-mixed"
    # CPUs autocast to bfloat16 only.
    return "bf16-mixed"


{%- if cookiecutter.slurm %}


def gpus_per_node(accelerator: str, devices: int) -> int | None:
    """``hydra.launcher.gpus_per_node`` of ``launcher=slurm``: one GPU per device, and none
    for a CPU run, which a cluster without GPUs would otherwise never start."""
    return None if accelerator == "cpu" else devices
{%- endif %}


def _has_key(node: Any, name: str) -> bool:
    """Whether a config node has this key, its value unresolved (``in`` resolves it, and a
    value such as ``${hydra:job.num}`` resolves only inside a job)."""
    return isinstance(node, DictConfig) and name in list(node)


def searchable(space: DictConfig, *, _root_: DictConfig) -> dict[str, Any]:
    """``hydra.sweeper.params`` of ``hparams_search=optuna``: the keys of ``search_space``
    that the composed config has, so a model without ``dropout`` (or an optimizer without
    ``momentum``) is searched over the others; each key left out is named in one line.

    Optuna's sweeper would pass every key on to each trial, which then fails on it.
    """
    kept = {}
    for key, value in space.items():
        key = str(key)
        group, _, _ = key.partition(".")
        parent_key, _, name = key.rpartition(".")
        parent = OmegaConf.select(_root_, parent_key, default=None) if parent_key else _root_
        # "+key" adds a key on purpose. Hydra also resolves its own node alone, without the
        # config groups, where nothing can be told: both keep the key.
        if key.startswith("+") or not _has_key(_root_, group) or _has_key(parent, name):
            kept[key] = value
            continue
        choice = OmegaConf.select(_root_, f"hydra.runtime.choices.{group}", default=None)
        owner = f"{group} {choice}" if choice else group
        print(f"note: {key} is not searched: {owner} has no {name}", file=sys.stderr)
    return kept


def register_resolvers() -> None:
    """Resolvers the configs use; registered before Hydra composes (idempotent)."""
    # Cached: they make a folder, and Hydra reads run.dir and sweep.dir several times; every
    # read must give that one folder (a multirun's jobs get a copy of the cache).
    OmegaConf.register_new_resolver("run_dir", run_dir_resolver, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("sweep_dir", sweep_dir_resolver, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("mixed_precision", mixed_precision, replace=True)
    OmegaConf.register_new_resolver("sqlite_url", sqlite_url, replace=True)
    OmegaConf.register_new_resolver("searchable", searchable, replace=True)
    OmegaConf.register_new_resolver("trial_folder", trial_folder, replace=True)
{%- if cookiecutter.slurm %}
    OmegaConf.register_new_resolver("gpus_per_node", gpus_per_node, replace=True)
{%- endif %}
