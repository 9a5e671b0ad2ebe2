"""slurm=true adds a SLURM launcher that composes, and runs real jobs on a local one-node
cluster where this machine can start one; the default bake has no trace of it."""

import os
import shutil

import pytest

from .conftest import run_in


def test_slurm_bake_composes_its_launcher(bake):
    project = bake(slurm=True)
    assert "hydra-submitit-launcher" in (project / "pyproject.toml").read_text()
    assert "launcher=slurm" in (project / "README.md").read_text()
    # The project's own SLURM tests, and launcher=slurm among the composed options.
    tests = ("tests/test_slurm.py", "tests/test_configs.py", "-k", "slurm or launcher")
    quick = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow")
    result = run_in(project, *quick, *tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "6 passed" in result.stdout, result.stdout[-3000:]


@pytest.mark.skipif(os.geteuid() != 0, reason="the local SLURM cluster needs root")
@pytest.mark.skipif(
    not shutil.which("slurmctld") and not shutil.which("apt-get"),
    reason="slurm-wlm is not installed and there is no apt-get to install it",
)
def test_slurm_bake_runs_requeues_and_searches_on_a_local_cluster(bake):
    """The bake's slow SLURM tests start scripts/local_slurm.sh, run a 2-job multirun, requeue
    jobs mid-training (they resume to an uninterrupted run's weights), run an Optuna search
    as parallel jobs, and stop the cluster."""
    project = bake(slurm=True)
    slow = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow", "tests/test_slurm.py")
    result = run_in(project, *slow)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout, result.stdout[-3000:]


def test_default_bake_has_no_slurm_launcher(bake):
    project = bake()
    assert not (project / "configs" / "launcher").exists()
    assert not (project / "tests" / "test_slurm.py").exists()
    assert not (project / "scripts" / "local_slurm.sh").exists()
    assert not list(project.glob("src/*/utils/slurm_logs.py"))
    assert "gpus_per_node" not in next(project.glob("src/*/utils/resolvers.py")).read_text()
    assert "submitit" not in (project / "pyproject.toml").read_text()
    assert "launcher" not in (project / "configs" / "train.yaml").read_text()
    assert "launcher=slurm" not in (project / "README.md").read_text()
    assert "local_slurm" not in (project / "README.md").read_text()
