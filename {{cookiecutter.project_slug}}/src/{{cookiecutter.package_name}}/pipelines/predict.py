"""Run a past run's model on files: the path a deployed model takes, without a Trainer."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError, DataError
from ..utils.runs import checkpoint_of, point_latest

if TYPE_CHECKING:  # torch is imported lazily: the CLI answers config errors without it
    import torch

INPUT_SUFFIXES = (".npy", ".pt", ".csv")


def input_files(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
        if files:
            return files
        raise DataError(f"input={spec} holds no {', '.join(INPUT_SUFFIXES)} files")
    raise DataError(f"input={spec} does not exist; give a file or a folder of files")


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible; use device=cpu or device=auto")
    return torch.device(name)


def predict(cfg: DictConfig) -> Path:
    checkpoint = checkpoint_of(cfg.paths.log_dir, cfg.runs_of, cfg.run, cfg.ckpt_path)
    files = input_files(cfg.input)

    silence_known_warnings()
    import numpy as np
    import torch

    from ..tasks import load_task
    from .build import build_data

    device = pick_device(cfg.device)
    task = load_task(checkpoint, map_location=device).eval()
    datamodule = build_data(task.hparams.data)
    class_names = task.hparams.class_names
    rows, outputs = [], []
    with torch.inference_mode():
        for file in files:
            inputs = datamodule.load_inputs(file)
            for start in range(0, len(inputs), cfg.batch_size):
                batch = inputs[start : start + cfg.batch_size].to(device)
                predicted = task.predict_step(batch, 0).float().cpu()
                outputs.append(predicted)
                for offset, values in enumerate(predicted.tolist()):
                    label = [class_names[int(np.argmax(values))]] if class_names else []
                    rows.append([file.name, start + offset, *label, *values])

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    table = Path(cfg.output) if cfg.get("output") else out_dir / "predictions.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    values = class_names or [f"output_{i}" for i in range(outputs[0].shape[-1])]
    with table.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["source", "index", *(["predicted"] if class_names else []), *values])
        writer.writerows(rows)
    np.save(table.with_suffix(".npy"), torch.cat(outputs).numpy())
    point_latest(cfg.paths.log_dir, cfg.task_name, out_dir)
    console.print(
        f"[bold]{len(rows)} predictions[/bold] from {checkpoint} on {device}: {table}",
        soft_wrap=True,
    )
    return table
