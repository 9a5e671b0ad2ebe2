"""Every command in the README's ```bash blocks runs, in order, in a copy of the project.

Training commands get a tiny budget appended (Hydra lets the last value of a key win).
Commands that need what a test machine lacks (GPUs, several nodes, a SLURM cluster, a
download) are composed with ``--cfg job`` instead, which still checks every override.
Lines that set up the environment the tests already run in are not run; NOT_RUN says why.
A command this file does not know how to run fails: teach it here rather than skip it.
"""

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from .conftest import PROJECT, copy_project
from .datafiles import write_sklearn_table
from .test_multi_node import COMMANDS as MULTI_NODE_COMMANDS
from .test_new_data import COMMANDS as NEW_DATA_COMMANDS
from .test_readme_data import COMMANDS as DATA_COMMANDS
from .test_runs_command import COMMANDS as RUNS_COMMANDS
from .test_serve import README_COMMANDS as SERVE_COMMANDS
{%- if cookiecutter.slurm %}
from .test_slurm import README_COMMANDS as SLURM_COMMANDS
{%- endif %}

# Commands, by their first words, that are not run here, and why.
NOT_RUN = {
    ("python", "-m", "venv"): "creates a virtual environment; the tests already run in one",
    (".",): "activates that environment",
    ("source",): "activates that environment",
    ("pip",): "installs into the environment the tests run in",
    ("uv",): (
        "locks and installs a second environment; the template's tests/test_uv_lock.py "
        "locks a bake, syncs it from the lock and trains with uv run"
    ),
    ("pytest",): "is this test suite",
    ("python", "-m", "pytest"): "is this test suite",
    ("pre-commit", "run"): (
        "installs its hooks from PyPI; the template's tests run it on a fresh git repository"
    ),
    ("docker",): "needs a Docker daemon; the template's tests check the Dockerfile",
}
# Files the README's commands read that a fresh clone lacks, written as a user would:
# predict.py's input, raw digits (0..16 per pixel) one per row, for the digits run before it,
# and the diabetes table the README trains on, predicts on and checks its export on.
EXAMPLE_FILES = {
    "inputs.npy": lambda path: np.save(path, load_digits().data[:8]),
    "data/diabetes.csv": lambda path: write_sklearn_table(path, "diabetes"),
}
# README lines another test runs more thoroughly (in-process, on files it writes for them).
COVERED_ELSEWHERE = (
    {
        line.split(" #")[0].strip(): "trained on example files by tests/test_readme_data.py"
        for line in DATA_COMMANDS
    }
    | {line: "run against a live server by tests/test_serve.py" for line in SERVE_COMMANDS}
    | {line: "run on two trained runs by tests/test_runs_command.py" for line in RUNS_COMMANDS}
    | {
        line: "run after adding the README's dataset by tests/test_new_data.py"
        for line in NEW_DATA_COMMANDS
    }
    | {
        line: "both nodes started at once by tests/test_multi_node.py"
        for line in MULTI_NODE_COMMANDS
    }
{%- if cookiecutter.slurm %}
    | {line: "run on a local SLURM cluster by tests/test_slurm.py" for line in SLURM_COMMANDS}
{%- endif %}
)
# Overrides asking for hardware, a cluster or a download: such commands are composed only.
COMPOSE_ONLY = re.compile(
    r"(trainer=(gpu|ddp|fsdp|mps)|trainer\.accelerator=(gpu|cuda|mps)|launcher=slurm"
    r"|hydra/launcher=submitit_slurm|data=(mnist|cifar10)|model\.weights=(?!null)\S+)"
)
MULTI_PROCESS_LAUNCHERS = {"torchrun", "srun"}
# Flags under which a launcher only prints: nothing to shorten.
PRINT_ONLY = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}")
PLACEHOLDER = re.compile(r"<[\w -]+>")
OPERATOR = re.compile(r"\s*(?:&&|\|\||;)\s*")
ENVIRONMENT_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")


def readme_lines() -> list[str]:
    """Each command line of the ```bash blocks, continuation lines joined, comments cut."""
    text = (PROJECT / "README.md").read_text()
    lines = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"(^|\s)#.*$", "", line).strip()
            if command:
                lines.append(command)
    return lines


def not_run_reason(words: list[str]) -> str | None:
    for prefix, reason in NOT_RUN.items():
        if tuple(words[: len(prefix)]) == prefix:
            return reason
    return None


def python_command(words: list[str]) -> list[str]:
    """A launcher command as the test runs it: shortened, or composed only."""
    if words[0] in MULTI_PROCESS_LAUNCHERS:
        script = next(i for i, word in enumerate(words) if word.endswith(".py"))
        return [sys.executable, *words[script:], "--cfg", "job"]
    arguments = words[2:]
    if PRINT_ONLY & set(arguments):
        return [sys.executable, *words[1:]]
    if any(COMPOSE_ONLY.fullmatch(argument) for argument in arguments):
        kept = [argument for argument in arguments if argument not in ("-m", "--multirun")]
        return [sys.executable, words[1], *kept, "--cfg", "job"]
    budget = []
    if words[1] == "train.py":
        resumed = any(argument.startswith("resume=") for argument in arguments)
        budget = [
            f"trainer.max_epochs={2 if resumed else 1}",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=2",
            "trainer.limit_test_batches=2",
        ]
        if any(argument.startswith("hparams_search=") for argument in arguments):
            budget.append("hydra.sweeper.n_trials=2")
    if words[1] == "benchmark.py":
        budget = [
            "benchmark.steps=3",
            "benchmark.warmup=1",
            "benchmark.repeats=1",
        ]
    return [sys.executable, *words[1:], *budget]


def is_launcher(words: list[str]) -> bool:
    return words[0] in MULTI_PROCESS_LAUNCHERS or (
        words[0] == "python" and len(words) > 1 and words[1].endswith(".py")
    )


def as_run(line: str, latest_run: str | None) -> str | None:
    """The shell line the test runs for a README line, or None when no part of it runs."""
    if line in COVERED_ELSEWHERE:
        return None
    if latest_run:
        line = TIMESTAMP.sub(latest_run, line.replace("<timestamp>", latest_run))
    unknown = PLACEHOLDER.findall(line)
    assert not unknown, f"{line!r}: say in tests/test_readme.py what {unknown} stands for"
    parts = []
    for part in OPERATOR.split(line):
        words = shlex.split(part)
        # Leading NAME=value words set the environment of the command after them.
        assignments = list(itertools.takewhile(ENVIRONMENT_ASSIGNMENT.fullmatch, words))
        command = words[len(assignments) :]
        if not_run_reason(command):
            continue
        if is_launcher(command):
            parts.append(shlex.join([*assignments, *python_command(command)]))
        else:
            parts.append(part)
    return " && ".join(parts) or None


LINES = readme_lines()
RUN = [line for line in LINES if as_run(line, "2000-01-01_00-00-00")]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project as a user has it after baking: no runs, no data, no caches."""
    return copy_project(tmp_path_factory.mktemp("readme") / "project")


def test_the_readme_commands_are_found():
    # An empty list would leave the parametrized test below with nothing to run.
    assert any(line.startswith("python train.py") for line in RUN), LINES


@pytest.mark.slow
@pytest.mark.parametrize("line", RUN, ids=[line[:70] for line in RUN])
def test_readme_command_runs(clone, line):
    latest = clone / "logs" / "train" / "latest"
    command = as_run(line, latest.resolve().name if latest.exists() else None)
    for name, write in EXAMPLE_FILES.items():
        if name in line and not (clone / name).exists():
            write(clone / name)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(clone / "src"), *sys.path]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        # The README's commands use the default logger; nothing leaves this machine.
        "WANDB_MODE": "offline",
    }
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{line}\nran as: {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
