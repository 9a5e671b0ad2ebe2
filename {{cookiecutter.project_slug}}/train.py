"""Train a model: ``python train.py model=transformer trainer.max_epochs=20``."""

import math

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@one_line_errors
def main(cfg: DictConfig) -> float | None:
    # Imported here so --help, --cfg and config errors answer without loading torch.
    from {{ cookiecutter.package_name }}.pipelines.train import train

    metrics = train(cfg)
    value = metrics.get(cfg.get("optimized_metric") or "")
    # A diverged run returns None, which the Optuna sweeper records as a failed trial; a NaN
    # would stop the whole sweep (optuna refuses to store it).
    return value if value is not None and math.isfinite(value) else None


if __name__ == "__main__":
    launch(main)
