"""Every option of every config group composes, without importing torch."""

import pytest
from omegaconf import OmegaConf

from .conftest import CONFIGS, copy_project, run_python

GROUPS = [
    "model",
    "data",
    "loss",
    "optimizer",
    "scheduler",
    "trainer",
    "callbacks",
    "logger",
    "debug",
    "experiment",
    "hparams_search",
    "launcher",
]
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIGS / group).glob("*.yaml"))
]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(make_cfg, group, option):
    cfg = make_cfg([f"{group}={option}"])
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if group == "model":
        assert cfg.model._target_.startswith("{{ cookiecutter.package_name }}.models.")


def test_overrides_apply(make_cfg):
    cfg = make_cfg(
        [
            "model=transformer",
            "trainer.max_epochs=3",
            "optimizer=adamw",
            "optimizer.lr=3e-4",
            "scheduler=warmup_cosine",
            "data.batch_size=32",
        ]
    )
    assert cfg.model._target_.endswith("Transformer")
    assert cfg.trainer.max_epochs == 3
    assert cfg.optimizer._target_ == "torch.optim.AdamW"
    assert cfg.optimizer.lr == pytest.approx(3e-4)
    assert cfg.scheduler.interval == "step"
    assert cfg.data.batch_size == 32


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONFIGS / "data").glob("*.yaml")))
def test_every_data_option_takes_the_shared_loader_settings(make_cfg, option):
    own = OmegaConf.load(CONFIGS / "data" / f"{option}.yaml")
    assert not {"num_workers", "pin_memory", "persistent_workers"} & set(own), (
        "set in configs/data_loader.yaml, for every data option"
    )
    cfg = make_cfg([f"data={option}", "data.batch_size=8", "data.num_workers=1"])
    assert (cfg.data.batch_size, cfg.data.num_workers, cfg.data.pin_memory) == (8, 1, False)


def test_unknown_model_lists_the_available_ones(tmp_path):
    # In a copy: tests/test_new_model.py, in another worker, adds a model to this project.
    project = copy_project(tmp_path / "project")
    result = run_python("train.py", "model=nope", project=project)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no config 'model/nope'; available in 'model': "
        + ", ".join(sorted(p.stem for p in (project / "configs" / "model").glob("*.yaml")))
    ]


def test_composing_does_not_import_torch():
    code = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from {{ cookiecutter.package_name }}.utils.resolvers import register_resolvers\n"
        "register_resolvers()\n"
        f"with initialize_config_dir({str(CONFIGS)!r}, version_base='1.3'):\n"
        "    compose('train', overrides=['model=transformer'])\n"
        "assert 'torch' not in sys.modules, 'composing a config imported torch'\n"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
