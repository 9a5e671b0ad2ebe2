from pathlib import Path

from omegaconf import OmegaConf

from .runs import run_dir_resolver, sweep_dir_resolver


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


def register_resolvers() -> None:
    """Resolvers the configs use; registered before Hydra composes (idempotent)."""
    # Cached: they make a folder, and Hydra reads run.dir and sweep.dir several times; every
    # read must give that one folder (a multirun's jobs get a copy of the cache).
    OmegaConf.register_new_resolver("run_dir", run_dir_resolver, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("sweep_dir", sweep_dir_resolver, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("mixed_precision", mixed_precision, replace=True)
    OmegaConf.register_new_resolver("sqlite_url", sqlite_url, replace=True)
