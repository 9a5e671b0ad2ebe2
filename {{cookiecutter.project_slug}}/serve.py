"""Serve a past run's model over HTTP: ``python serve.py run=latest port=8000``."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="serve")
@one_line_errors
def main(cfg: DictConfig) -> None:
    # Imported here so --help, --cfg and config errors answer without loading torch.
    from {{ cookiecutter.package_name }}.pipelines.serve import serve

    serve(cfg, project_root=Path(__file__).resolve().parent)


if __name__ == "__main__":
    launch(main)
