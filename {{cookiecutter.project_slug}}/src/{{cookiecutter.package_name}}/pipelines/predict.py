"""Run a past run's model on a user's files: the path a deployed model takes, without a
Trainer and without the training data, through the ``Predictor`` that serve.py and
export.py share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError, DataError
from ..utils.runs import point_latest, trained_run

if TYPE_CHECKING:  # torch is imported lazily: the CLI answers config errors without it
    import torch


def input_files(spec: str, suffixes: tuple[str, ...]) -> list[Path]:
    """The file given, or every file of a readable format in the folder and its subfolders."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )
        if files:
            return files
        raise DataError(f"input={spec} holds no {', '.join(suffixes)} files")
    raise DataError(f"input={spec} does not exist; give a file or a folder of files")


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible; use device=cpu or device=auto")
    return torch.device(name)


def predict(cfg: DictConfig) -> Path:
    run = trained_run(cfg)
    if not Path(cfg.input).exists():
        raise DataError(f"input={cfg.input} does not exist; give a file or a folder of files")

    silence_known_warnings()
    import numpy as np
    import torch

    from .inference import write_predictions

    device = pick_device(cfg.device)
    predictor = run.predictor(device)
    preprocessing = predictor.preprocessing
    # Every file is read before anything is written: a bad one leaves no half a table.
    examples = [preprocessing.read(file) for file in input_files(cfg.input, preprocessing.suffixes)]
    outputs = [predictor(part.raw, cfg.batch_size) for part in examples]
    values = torch.cat(outputs) if outputs else torch.zeros(0, len(predictor.names))

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    table = Path(cfg.output) if cfg.get("output") else out_dir / "predictions.csv"
    write_predictions(
        table,
        preprocessing,
        [source for part in examples for source in part.sources],
        [index for part in examples for index in part.indices],
        values,
    )
    np.save(table.with_suffix(".npy"), values.numpy())
    point_latest(cfg.paths.log_dir, cfg.task_name, out_dir)
    console.print(
        f"[bold]{len(values)} predictions[/bold] from {run.checkpoint} on {device}: {table}",
        soft_wrap=True,
    )
    return table
