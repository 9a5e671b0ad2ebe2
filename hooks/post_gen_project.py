"""Remove the files the answers turned off, then say what to do next.

Only files this bake wrote are removed: pre_gen_project.py copied aside the user's own
file at any of these paths (a re-bake with --overwrite-if-exists), and it is put back.
Folders go only when nothing is left in them. Safe to run twice (cruft re-runs the hooks).
"""

import json
import os
import shutil
from pathlib import Path

ANSWERS: dict[str, str | bool] = json.loads(
    r"""{
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "license": {{ cookiecutter.license | tojson }},
    "github_ci": {{ cookiecutter.github_ci | tojson }},
    "dockerfile": {{ cookiecutter.dockerfile | tojson }},
    "slurm": {{ cookiecutter.slurm | tojson }}
}"""
)
# The same paths as OPTIONAL_FILES in pre_gen_project.py, each with whether it is off.
TURNED_OFF = {
    "LICENSE": ANSWERS["license"] == "none",
    ".github/workflows/ci.yml": not ANSWERS["github_ci"],
    "Dockerfile": not ANSWERS["dockerfile"],
    ".dockerignore": not ANSWERS["dockerfile"],
    "configs/launcher/slurm.yaml": not ANSWERS["slurm"],
    "tests/test_slurm.py": not ANSWERS["slurm"],
    "scripts/local_slurm.sh": not ANSWERS["slurm"],
    f"src/{ANSWERS['package_name']}/utils/slurm_logs.py": not ANSWERS["slurm"],
}
KEPT = Path(".cookiecutter-kept")


def remove_empty_parents(path: Path) -> None:
    for folder in path.parents[:-1]:  # never the project folder itself
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()


def main() -> None:
    for relative, turned_off in TURNED_OFF.items():
        path, kept = Path(relative), KEPT / relative
        if not turned_off:
            continue  # rendered over the user's file, as --overwrite-if-exists asks
        if kept.is_file():
            os.replace(kept, path)  # the user's own file, as it was before the bake
        elif path.is_file():
            path.unlink()
            remove_empty_parents(path)
    if KEPT.is_dir():
        shutil.rmtree(KEPT)
    slug = ANSWERS["project_slug"]
    print(
        f"\nBaked {slug}. Next steps:\n"
        f"  cd {slug}\n"
        "  python -m venv .venv && . .venv/bin/activate\n"
        "  pip install -e '.[dev]'      # or: uv lock && uv sync --locked --extra dev\n"
        "                               # commit uv.lock (README: One environment for everyone)\n"
        "  git init && pre-commit install   # ruff and hygiene checks on every commit\n"
        "  python train.py              # MLP on the bundled digits, ~20 s on a 2-core CPU\n"
        "  python train.py model=transformer trainer.max_epochs=20\n"
    )


if __name__ == "__main__":
    main()
