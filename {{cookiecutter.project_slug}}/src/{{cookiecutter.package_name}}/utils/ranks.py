import os

# The variables launchers (Lightning, torchrun, SLURM) set for every process but the first.
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def is_rank_zero() -> bool:
    """True in the process that owns the run folder; readable before torch is imported."""
    return all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES)
