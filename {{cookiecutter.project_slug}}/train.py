"""Train a model: ``python train.py model=transformer trainer.max_epochs=20``."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.resolvers import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    # Imported here so --help, --cfg and config errors answer without loading torch.
    from {{ cookiecutter.package_name }}.pipelines.train import train

    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric") or "")


if __name__ == "__main__":
    main()
