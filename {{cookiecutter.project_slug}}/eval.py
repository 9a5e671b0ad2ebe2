"""Test a past run's best checkpoint: ``python eval.py run=latest`` (or ``ckpt_path=...``)."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
@one_line_errors
def main(cfg: DictConfig) -> None:
    from {{ cookiecutter.package_name }}.pipelines.evaluate import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    launch(main)
