"""What a run needs to be reproduced later: the code version and the installed packages."""

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# Variables that change how torch, Lightning, Hydra, the loggers or the cluster behave.
RECORDED_PREFIXES = (
    "CUDA_", "CUBLAS_", "NCCL_", "OMP_", "MKL_", "KMP_", "PYTHON", "TORCH", "PYTORCH_",
    "HYDRA_", "WANDB_", "MLFLOW_", "HF_", "SLURM_", "MASTER_", "WORLD_SIZE", "RANK", "LOCAL_",
)  # fmt: skip
# Names whose values are credentials: written as *** (the name still shows it was set).
SECRET = re.compile(r"(^|_)(KEY|TOKEN)$|PASSWORD|PASSWD|SECRET|CREDENTIAL", re.IGNORECASE)
MASK = "***"
ENVIRONMENT = "environment.txt"


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


def masked_argument(argument: str) -> str:
    """``a.b.api_key=value`` -> ``a.b.api_key=***``; other arguments unchanged."""
    key, equals, _ = argument.partition("=")
    if equals and SECRET.search(key.lstrip("+~").rsplit(".", 1)[-1]):
        return f"{key}={MASK}"
    return argument


def recorded_environment() -> list[str]:
    """``NAME=value`` for the variables that shape a run, credentials masked."""
    lines = []
    for name, value in sorted(os.environ.items()):
        if name.upper().startswith(RECORDED_PREFIXES):
            shown = MASK if SECRET.search(name) else value.replace("\n", "\\n")
            lines.append(f"{name}={shown}")
    return lines


def write_provenance(run_dir: Path) -> None:
    """git.txt (commit, and git.diff when the tree is dirty), requirements.txt, environment.txt."""
    commit = _git("rev-parse", "HEAD")
    if commit is not None:
        status = _git("status", "--porcelain") or ""
        (run_dir / "git.txt").write_text(
            f"commit: {commit.strip()}\ndirty: {'yes' if status.strip() else 'no'}\n{status}"
        )
        diff = _git("diff", "HEAD")
        if diff:
            (run_dir / "git.diff").write_text(diff)
    packages = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    )
    (run_dir / "requirements.txt").write_text("\n".join(packages) + "\n")
    command = " ".join(masked_argument(argument) for argument in sys.argv)
    variables = "".join(f"  {line}\n" for line in recorded_environment())
    (run_dir / ENVIRONMENT).write_text(
        f"python: {sys.version.split()[0]}\nplatform: {platform.platform()}\n"
        f"command: {command}\nvariables:\n{variables}"
    )
