"""Every combination of the answers that change files or dependencies bakes a sound project.

The full cross-product by default (as CI runs it); ``pytest --fast`` bakes a pairwise
subset instead: every pair of option values together at least once.
"""

import itertools
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import tomllib
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from .conftest import ANSWERS, bake_into, run_in

OPTIONS: dict[str, list[Any]] = {
    name: value if isinstance(value, list) else [value, not value]
    for name, value in ANSWERS.items()
    if not name.startswith("_") and isinstance(value, list | bool)
}
# Files that exist only for some answers; every other file must be in every bake.
OPTIONAL_FILES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "LICENSE": lambda a: a["license"] != "none",
    ".github/workflows/ci.yml": lambda a: a["github_ci"],
    "Dockerfile": lambda a: a["dockerfile"],
    ".dockerignore": lambda a: a["dockerfile"],
    "configs/launcher/slurm.yaml": lambda a: a["slurm"],
    "tests/test_slurm.py": lambda a: a["slurm"],
    "scripts/local_slurm.sh": lambda a: a["slurm"],
    "src/my_project/utils/slurm_logs.py": lambda a: a["slurm"],
}
LOGGER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def full_matrix() -> list[dict[str, Any]]:
    names = list(OPTIONS)
    # No answer excludes another today; an incompatible pair would be filtered out here.
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*OPTIONS.values())
    ]


def pairwise(combos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greedily pick combinations until every pair of option values appears in one."""

    def pairs(combo: dict[str, Any]) -> set[tuple[Any, ...]]:
        items = sorted((k, repr(v)) for k, v in combo.items())
        return set(itertools.combinations(items, 2))

    uncovered = set().union(*(pairs(c) for c in combos))
    chosen = []
    while uncovered:
        best = max(combos, key=lambda c: len(pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


def project_files(project: Path) -> set[str]:
    return {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}


def dependencies(project: Path) -> set[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return {
        dep.split(">")[0].split("=")[0].split("[")[0]
        for dep in pyproject["project"]["dependencies"]
    }


def compose_train(project: Path, overrides: list[str]) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(project / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=bool(overrides))
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    GlobalHydra.instance().clear()


def test_every_combination_bakes_a_sound_project(request, tmp_path, report):
    combos = full_matrix()
    if request.config.getoption("--fast"):
        combos = pairwise(combos)
    projects = []
    for n, answers in enumerate(combos):
        project = bake_into(tmp_path / str(n), **answers)
        projects.append((answers, project))

    core = project_files(projects[0][1]) - set(OPTIONAL_FILES)
    for answers, project in projects:
        expected = core | {name for name, present in OPTIONAL_FILES.items() if present(answers)}
        assert project_files(project) == expected, answers
        deps = dependencies(project)
        for logger, package in LOGGER_PACKAGES.items():
            assert (package in deps) == (answers["logger"] == logger), (answers, deps)
        assert ("hydra-submitit-launcher" in deps) == answers["slurm"], (answers, deps)
        compose_train(project, ["launcher=slurm"] if answers["slurm"] else [])

    folders = [str(project) for _, project in projects]
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *folders], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    def cli_composes(project: Path) -> str:
        result = run_in(project, "train.py", "--cfg", "job", timeout=120)
        return "" if result.returncode == 0 else f"{project}: {result.stderr[-1500:]}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(cli_composes, [p for _, p in projects]) if f]
    assert failures == []
    report(f"baked {len(projects)} of {len(full_matrix())} combinations; all passed")


REPRESENTATIVE = {
    "python_version": "3.12",
    "license": "none",
    "logger": "tensorboard",
    "github_ci": False,
    "dockerfile": True,
    "slurm": True,
}


@pytest.mark.parametrize("answers", [REPRESENTATIVE], ids=["non-default-options"])
def test_a_non_default_bake_passes_its_fast_tests(tmp_path, answers, report):
    project = bake_into(tmp_path, **answers)
    result = run_in(project, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider")
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    report(f"non-default bake's fast tests: {summary}")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "passed" in summary and "failed" not in summary and "skipped" not in summary
