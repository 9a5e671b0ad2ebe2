"""Time the training step against a hand-written loop (``python benchmark.py model=cnn``), or the
sequence data path on a long recording (``python benchmark.py benchmark.sequence=true``)."""

import hydra
from omegaconf import DictConfig

from {{ cookiecutter.package_name }}.utils.cli import launch, one_line_errors


@hydra.main(version_base="1.3", config_path="configs", config_name="benchmark")
@one_line_errors
def main(cfg: DictConfig) -> None:
    # Imported here so --help, --cfg and config errors answer without loading torch.
    if cfg.benchmark.sequence:
        from {{ cookiecutter.package_name }}.pipelines.sequence_benchmark import sequence_benchmark

        options = cfg.benchmark
        sequence_benchmark(options.frames, options.channels, options.repeats)
        return
    from {{ cookiecutter.package_name }}.pipelines.benchmark import benchmark

    benchmark(cfg)


if __name__ == "__main__":
    launch(main)
