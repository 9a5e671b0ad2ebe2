"""Time the training step against a hand-written loop: ``python benchmark.py model=cnn``."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="benchmark")
@one_line_errors
def main(cfg: DictConfig) -> None:
    # Imported here so --help, --cfg and config errors answer without loading torch.
    from {{ cookiecutter.package_name }}.pipelines.benchmark import benchmark

    benchmark(cfg, project_root=Path(__file__).resolve().parent)


if __name__ == "__main__":
    launch(main)
