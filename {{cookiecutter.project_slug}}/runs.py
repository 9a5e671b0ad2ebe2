"""List past training runs, newest first (``python runs.py sort=val/loss model=cnn``), or
compare two (``python runs.py compare latest 2026-01-31_12-00-00``)."""

import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.utils.cli import launch


def main() -> None:
    # It reads run folders only: torch is never imported, so the table answers at once.
    from {{ cookiecutter.package_name }}.pipelines.runs import runs_command

    runs_command(sys.argv[1:], Path(__file__).parent / "configs")


if __name__ == "__main__":
    launch(main)
