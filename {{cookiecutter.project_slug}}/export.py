"""Export a past run: ``python export.py run=latest format=onnx`` (or ``format=torchscript``)."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="export")
@one_line_errors
def main(cfg: DictConfig) -> None:
    from {{ cookiecutter.package_name }}.pipelines.export import export

    export(cfg)


if __name__ == "__main__":
    launch(main)
