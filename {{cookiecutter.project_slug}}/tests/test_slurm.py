"""The SLURM launcher config: jobs sized from the trainer, Lightning's requeue left to submitit."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig

from .conftest import CONFIGS, run_python

SIZED = ["launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
PRINT_RESOLVED = ["--cfg", "all", "--resolve"]


@pytest.fixture
def slurm_cfg():
    def make(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            return compose("train", overrides=[*SIZED, *overrides], return_hydra_config=True)

    yield make
    GlobalHydra.instance().clear()


def test_jobs_get_one_task_and_one_gpu_per_device(slurm_cfg):
    cfg = slurm_cfg()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert cfg.hydra.mode.name == "MULTIRUN"


def test_lightning_leaves_requeueing_to_submitit(slurm_cfg):
    (environment,) = instantiate(slurm_cfg().trainer.plugins)
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue is False


def test_the_readme_command_composes():
    result = run_python(
        "train.py", *SIZED, "hydra.launcher.partition=gpu", *PRINT_RESOLVED, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tasks_per_node: 4" in result.stdout
    assert "partition: gpu" in result.stdout
    assert "SlurmLauncher" in result.stdout
