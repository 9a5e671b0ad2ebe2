"""What a run needs to be reproduced later: the code version and the installed packages."""

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


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
    (run_dir / "environment.txt").write_text(
        f"python: {sys.version.split()[0]}\nplatform: {platform.platform()}\n"
        f"command: {' '.join(sys.argv)}\n"
    )
