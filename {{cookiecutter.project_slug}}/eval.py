"""Test a past run's best checkpoint: ``python eval.py run=latest`` (or ``ckpt_path=...``)."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.resolvers import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from {{ cookiecutter.package_name }}.pipelines.evaluate import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    main()
