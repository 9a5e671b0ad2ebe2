"""One short real epoch through the builders ``train.py`` uses, minus the run folder's
bookkeeping (config tree, provenance, plots), for tests that train many pairs."""

from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.data.base import DataModule
from {{ cookiecutter.package_name }}.models.pretrained import MissingExtra
from {{ cookiecutter.package_name }}.models.shapes import IncompatibleInput
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
from {{ cookiecutter.package_name }}.tasks import Task

from .conftest import CONFIGS, SHORT_RUN

# Every model of configs/model/: a model added there is tested the moment its YAML exists.
MODELS = sorted(path.stem for path in (CONFIGS / "model").glob("*.yaml"))

# Two training batches and one validation batch, no checkpoints, plots or loggers.
BRIEFLY = [
    *(override for override in SHORT_RUN if not override.startswith("callbacks.")),
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "callbacks=none",
    "logger=none",
]


def task_or_refusal(cfg: DictConfig, datamodule: DataModule) -> Task | None:
    """The task of the configured model on this data; None for a pair that cannot work,
    once it has said so in one sentence naming both. A model whose optional extra is not
    installed (``model=resnet`` without torchvision, as in these tests' environment) is
    None too, once it has said in one line what to install."""
    model, data = cfg.model._target_, cfg.data._target_
    try:
        return build_task(cfg, datamodule)
    except MissingExtra as error:
        message = str(error)
        assert "pip install" in message and "\n" not in message, (model, message)
        return None
    except IncompatibleInput as error:
        message = str(error)
        assert message.startswith("model ") and "cannot" in message, (model, data, message)
        assert "\n" not in message, message
        return None


def fit_briefly(cfg: DictConfig) -> dict[str, float]:
    """Fit as ``train.py`` does (same data, task and trainer); the epoch's metrics."""
    datamodule = build_data(cfg.data)
    trainer = build_trainer(cfg)
    trainer.fit(build_task(cfg, datamodule), datamodule=datamodule)
    return {name: float(value) for name, value in trainer.callback_metrics.items()}
