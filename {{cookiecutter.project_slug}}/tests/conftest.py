"""Compose the project's real configs in-process, as ``python train.py ...`` would."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from {{ cookiecutter.package_name }}.utils.resolvers import register_resolvers

# The tests run in parallel workers (pyproject's addopts) that share the cores: each worker,
# and each process it starts, gets its share of torch's threads (set before torch is
# imported), not one per core each, which oversubscribes the cores and slows every test.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))

PROJECT = Path(__file__).resolve().parents[1]
CONFIGS = PROJECT / "configs"
# A real but short run: enough batches for every metric, small enough for a fast suite.
PLOTTED_RUN = (
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
)
# The same without drawing the plots, half of such a run's time, for the tests that do not
# look at them (tests/test_plots.py, test_regression.py and test_loggers.py do).
SHORT_RUN = (*PLOTTED_RUN, "callbacks.plots=null")

register_resolvers()


def project_env(project: Path = PROJECT) -> dict[str, str]:
    """The environment for a subprocess that must import this project from source."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(project / "src"), *sys.path])}


def run_python(
    *args: str, timeout: int = 600, project: Path = PROJECT
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in the project folder, as a user runs it, importing from source."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# What a fresh clone of the project lacks: top-level folders git ignores, and caches.
NOT_COPIED = {"logs", "data", ".git", ".venv"}
CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def copy_project(destination: Path) -> Path:
    """The project as a user has it after baking: no runs, no data, no caches; for tests
    that add files to it (a user's model or dataset) without touching this one."""

    def ignored(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == PROJECT
        return {name for name in names if name in CACHES or (top and name in NOT_COPIED)}

    return Path(shutil.copytree(PROJECT, destination, ignore=ignored))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def compose_config(
    log_dir: Path, overrides: Sequence[str] = (), config_name: str = "train"
) -> DictConfig:
    """A config composed and given a run folder exactly as ``@hydra.main`` does."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(
            config_name,
            overrides=[*overrides, f"paths.log_dir={log_dir}"],
            return_hydra_config=True,
        )
    run_dir = Path(cfg.hydra.run.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


@pytest.fixture
def make_cfg(log_dir: Path) -> Iterator[Callable[..., DictConfig]]:
    """``compose_config`` under this test's ``log_dir``."""

    def make(overrides: Sequence[str] = (), config_name: str = "train") -> DictConfig:
        return compose_config(log_dir, overrides, config_name)

    yield make
    GlobalHydra.instance().clear()


@pytest.fixture
def run_script(log_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run one of the project's launchers as a user would, logging under ``log_dir``."""

    def run(script: str, *overrides: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = run_python(script, *overrides, f"paths.log_dir={log_dir}")
        if check and result.returncode != 0:
            raise AssertionError(
                f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    return run
