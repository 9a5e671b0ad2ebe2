"""One short real epoch through the builders ``train.py`` uses, minus the run folder's
bookkeeping (config tree, provenance, plots), for tests that train many pairs."""

from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer

from .conftest import SHORT_RUN

# Two training batches and one validation batch, no checkpoints, plots or loggers.
BRIEFLY = [
    *(override for override in SHORT_RUN if not override.startswith("callbacks.")),
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "callbacks=none",
    "logger=none",
]


def fit_briefly(cfg: DictConfig) -> dict[str, float]:
    """Fit as ``train.py`` does (same data, task and trainer); the epoch's metrics."""
    datamodule = build_data(cfg.data)
    trainer = build_trainer(cfg)
    trainer.fit(build_task(cfg, datamodule), datamodule=datamodule)
    return {name: float(value) for name, value in trainer.callback_metrics.items()}
