"""Bake the template into temporary folders; one shared virtual environment runs them all."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
ANSWERS: dict[str, Any] = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def bake_into(output_dir: Path, **answers: Any) -> Path:
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers
        )
    )


def project_env(project: Path) -> dict[str, str]:
    """Run a baked project from its source tree, without installing it into the shared venv."""
    return {**os.environ, "PYTHONPATH": str(project / "src")}


def run_in(project: Path, *command: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def cookiecutter_cli(output_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``cookiecutter <template> --no-input -o <dir> <arguments>`` as a user types it."""
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--no-input", "-o"]
    return subprocess.run(
        [*command, str(output_dir), *arguments],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.fixture
def report(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], None]:
    """Print a figure to the terminal even though pytest captures the test's output."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n{request.node.name}: {line}")

    return write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="bake every pair of option values (pairwise) instead of the full cross-product",
    )


@pytest.fixture(scope="session")
def bake(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Bake once per distinct set of answers for the whole session."""
    baked: dict[str, Path] = {}

    def bake_once(**answers: Any) -> Path:
        key = json.dumps(answers, sort_keys=True)
        if key not in baked:
            baked[key] = bake_into(tmp_path_factory.mktemp("bake"), **answers)
        return baked[key]

    return bake_once
