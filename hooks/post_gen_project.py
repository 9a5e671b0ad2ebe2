"""Remove what the answers turned off, then say what to do next.

Safe to run twice (cruft re-runs it on update): it only deletes paths that exist.
"""

import shutil
from pathlib import Path

REMOVE_WHEN = {
    "LICENSE": "{{ cookiecutter.license }}" == "none",
    ".github": "{{ cookiecutter.github_ci }}" == "False",
    "Dockerfile": "{{ cookiecutter.dockerfile }}" == "False",
    ".dockerignore": "{{ cookiecutter.dockerfile }}" == "False",
    "configs/launcher": "{{ cookiecutter.slurm }}" == "False",
    "tests/test_slurm.py": "{{ cookiecutter.slurm }}" == "False",
}


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    for relative, turned_off in REMOVE_WHEN.items():
        if turned_off:
            remove(Path(relative))
    print(
        "\nBaked {{ cookiecutter.project_slug }}. Next steps:\n"
        "  cd {{ cookiecutter.project_slug }}\n"
        "  python -m venv .venv && . .venv/bin/activate\n"
        "  pip install -e '.[dev]'\n"
        "  git init && pre-commit install   # ruff and hygiene checks on every commit\n"
        "  python train.py              # digits, a minute on a laptop CPU\n"
        "  python train.py model=transformer trainer.max_epochs=20\n"
    )


if __name__ == "__main__":
    main()
