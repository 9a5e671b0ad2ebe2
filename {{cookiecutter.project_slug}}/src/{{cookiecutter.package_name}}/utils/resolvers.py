from omegaconf import OmegaConf

from .runs import run_dir_resolver


def register_resolvers() -> None:
    """Resolvers the configs use; registered before Hydra composes (idempotent)."""
    # Cached: Hydra reads run.dir several times and every read must give the same folder.
    OmegaConf.register_new_resolver("run_dir", run_dir_resolver, use_cache=True, replace=True)
