"""slurm=true adds a SLURM launcher that composes; the default bake has no trace of it."""

from .conftest import run_in


def test_slurm_bake_composes_its_launcher(bake):
    project = bake(slurm=True)
    assert "hydra-submitit-launcher" in (project / "pyproject.toml").read_text()
    assert "launcher=slurm" in (project / "README.md").read_text()
    # The project's own SLURM tests, and launcher=slurm among the composed options.
    tests = ("tests/test_slurm.py", "tests/test_configs.py", "-k", "slurm or launcher")
    result = run_in(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "4 passed" in result.stdout, result.stdout[-3000:]


def test_default_bake_has_no_slurm_launcher(bake):
    project = bake()
    assert not (project / "configs" / "launcher").exists()
    assert not (project / "tests" / "test_slurm.py").exists()
    assert "submitit" not in (project / "pyproject.toml").read_text()
    assert "launcher" not in (project / "configs" / "train.yaml").read_text()
    assert "launcher=slurm" not in (project / "README.md").read_text()
