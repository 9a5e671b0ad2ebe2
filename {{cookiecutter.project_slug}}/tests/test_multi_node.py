"""Two torchrun "nodes" on this machine train one run, as one process with the same batch does."""

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT, SHORT_RUN, project_env, run_python

# Two trainings at once plus a reference training: tens of seconds.
pytestmark = pytest.mark.slow


def multi_node_lines() -> list[str]:
    """The README's torchrun commands with ``--node_rank``: one per node, run here as given."""
    text = (PROJECT / "README.md").read_text()
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith("torchrun ") and "--node_rank=" in line
    ]


# tests/test_readme.py leaves these to this file, which starts both nodes at once.
COMMANDS = multi_node_lines()
# Dropout draws its masks per process, so two processes drop other units than one process
# does on the same examples; without it the two runs see the same batches and gradients.
SAME_AS_ONE_PROCESS = ("model.dropout=0",)
TEST_METRICS = ("test/acc", "test/f1", "test/loss")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def node_command(line: str, port: int, log_dir: Path) -> list[str]:
    """A README line as this test runs it: torchrun from this environment, on a free port,
    with a short run's budget appended (Hydra lets the last value of a key win)."""
    words = shlex.split(line.replace(":29500", f":{port}"))
    assert words[0] == "torchrun"
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *words[1:],
        *SHORT_RUN,
        *SAME_AS_ONE_PROCESS,
        f"paths.log_dir={log_dir}",
    ]


def test_the_readme_starts_two_nodes():
    ranks = [re.search(r"--node_rank=(\d)", line).group(1) for line in COMMANDS]
    assert ranks == ["0", "1"], COMMANDS
    assert all("--rdzv_endpoint=localhost:29500" in line for line in COMMANDS), COMMANDS


def test_two_nodes_train_one_run_equal_to_one_process(tmp_path):
    log_dir = tmp_path / "logs"
    port = free_port()
    environment = {**project_env(), "OMP_NUM_THREADS": "1"}
    nodes = []
    for rank, line in enumerate(COMMANDS):
        output = (tmp_path / f"node{rank}.out").open("w")
        process = subprocess.Popen(
            node_command(line, port, log_dir),
            cwd=PROJECT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        nodes.append((process, output))
    for rank, (process, output) in enumerate(nodes):
        try:
            code = process.wait(timeout=300)
        finally:
            for other, _ in nodes:
                if other.poll() is None and process.poll() is None:
                    other.kill()
            output.close()
        log = (tmp_path / f"node{rank}.out").read_text()
        assert code == 0, f"node {rank}:\n{log[-3000:]}"

    runs = sorted((log_dir / "train" / "runs").iterdir())
    assert [run.name for run in runs] == ["job-two-nodes"]
    (run,) = runs
    for name in ("config.yaml", "checkpoints/best.ckpt", "checkpoints/last.ckpt", "metrics.json"):
        assert (run / name).is_file(), name
    assert not (run / "run.lock").exists(), "the first process released the run's lock"
    assert (log_dir / "train" / "latest").resolve() == run.resolve()
    two_nodes = json.loads((run / "metrics.json").read_text())

    # data.batch_size is the global batch: each node trains on every other example of the
    # same shuffled order (utils/sampling.py), so one process sees the same batches.
    one_log_dir = tmp_path / "one"
    result = run_python(
        "train.py", *SHORT_RUN, *SAME_AS_ONE_PROCESS, f"paths.log_dir={one_log_dir}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    one = json.loads((one_log_dir / "train" / "latest" / "metrics.json").read_text())
    print({name: (two_nodes[name], one[name]) for name in TEST_METRICS})
    for name in TEST_METRICS:
        assert two_nodes[name] == pytest.approx(one[name], abs=1e-5), name
