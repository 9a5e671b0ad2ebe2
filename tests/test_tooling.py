"""The baked project's tooling: pre-commit passes on a fresh bake, CI and Docker files are sound."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE

HOOKS = {
    "ruff check",
    "ruff format",
    "fix end of files",
    "trim trailing whitespace",
    "check yaml",
    "check toml",
    "check for added large files",
    "detect private key",
}


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook cache for the session, outside the user's own ~/.cache/pre-commit."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "dockerfile": True,
            "slurm": True,
            "license": "Apache-2.0",
            "logger": "wandb",
            "github_ci": False,
        },
    ],
    ids=["default", "other-answers"],
)
def test_pre_commit_passes_on_a_fresh_git_repository(bake, tmp_path, pre_commit_home, answers):
    project = shutil.copytree(bake(**answers), tmp_path / "project")
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, check=True)
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--show-diff-on-failure"],
        cwd=project,
        env={**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    passed = set(re.findall(r"^(.+?)\.{3,}Passed$", result.stdout, flags=re.MULTILINE))
    assert passed >= HOOKS, result.stdout


def _version(action: str) -> int:
    return int(re.fullmatch(r"[\w./-]+@v(\d+)(\.\d+)*", action).group(1))


def test_ci_workflow_lints_and_tests_on_the_chosen_python(bake):
    project = bake(python_version="3.12")
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    [job] = workflow["jobs"].values()
    steps = job["steps"]
    actions = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert _version(actions["actions/checkout"]["uses"]) >= 4
    setup = actions["actions/setup-python"]
    assert _version(setup["uses"]) >= 5
    assert setup["with"]["python-version-file"] == ".python-version"
    assert (project / ".python-version").read_text().strip() == "3.12"
    commands = [line.strip() for step in steps for line in step.get("run", "").splitlines()]
    # Installed from the committed lock, refused when it is missing or out of date, with the
    # uv the template's own lock test uses (tests/test_uv_lock.py).
    [uv_pin] = re.findall(r"^uv==\S+$", (TEMPLATE / "requirements-dev.txt").read_text(), re.M)
    lock_check = commands.index("uv lock --check")
    assert commands.index(f"python -m pip install {uv_pin}") < lock_check
    assert any(line.startswith("test -f uv.lock ||") for line in commands[:lock_check])
    sync = commands.index("uv sync --locked --extra dev")
    lint = commands.index("uv run --locked pre-commit run --all-files --show-diff-on-failure")
    tests = commands.index('uv run --locked pytest -m "not slow"')
    assert lock_check < sync < min(lint, tests)
    assert not [line for line in commands if "pip install" in line and "uv==" not in line]


def test_dockerfile_is_optional_and_installs_the_project(bake):
    assert not (bake() / "Dockerfile").exists()
    assert not (bake() / ".dockerignore").exists()

    project = bake(dockerfile=True, python_version="3.12")
    dockerfile = (project / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim$", dockerfile, flags=re.MULTILINE)
    assert "--index-url https://download.pytorch.org/whl/cpu" in dockerfile
    # With the serve extra: the image can run serve.py.
    assert re.search(r"^RUN pip install '\.\[serve\]'$", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^EXPOSE 8000$", dockerfile, flags=re.MULTILINE)
    # Everything the image copies exists in the bake.
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (project / source).exists(), source
    ignored = (project / ".dockerignore").read_text().split()
    assert {".git", ".venv", "logs/", "data/"} <= set(ignored)
    readme = (project / "README.md").read_text()
    assert "docker build -t my_project ." in readme
