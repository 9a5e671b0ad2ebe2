"""Predict with a past run: ``python predict.py run=latest input=inputs.npy device=cpu``."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="predict")
@one_line_errors
def main(cfg: DictConfig) -> None:
    from {{ cookiecutter.package_name }}.pipelines.predict import predict

    predict(cfg)


if __name__ == "__main__":
    launch(main)
