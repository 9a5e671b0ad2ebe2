"""Ship a past run's model as ONNX or TorchScript, proven equal to the checkpoint."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from ..utils.config import CONFIG
from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError
from ..utils.runs import checkpoint_of

if TYPE_CHECKING:  # torch is imported lazily: the CLI answers config errors without it
    import torch

Runner = Callable[["torch.Tensor"], "torch.Tensor"]

FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}


class ExportMismatchError(RuntimeError):
    pass


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Runner:
    import onnxruntime
    import torch

    batch = torch.export.Dim("batch", min=1)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["input"],
        output_names=["output"],
        dynamic_shapes=({0: batch},),
        dynamo=True,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path) -> Runner:
    import torch

    torch.jit.save(torch.jit.trace(model, example), str(path))
    loaded = torch.jit.load(str(path))
    return lambda x: loaded(x)


def export(cfg: DictConfig) -> Path:
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format} is not one of {', '.join(FORMATS)}")
    checkpoint = checkpoint_of(cfg.paths.log_dir, cfg.runs_of, cfg.run, cfg.ckpt_path)

    silence_known_warnings()
    import torch

    from ..tasks import load_task
    from .build import build_data

    task = load_task(checkpoint).eval()
    model = task.model
    datamodule = build_data(task.hparams.data)
    inputs = next(iter(datamodule.test_dataloader()))[0]

    out_dir = Path(cfg.output_dir) if cfg.get("output_dir") else checkpoint.parent.parent / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FORMATS[cfg.format]
    exporter = {"onnx": export_onnx, "torchscript": export_torchscript}[cfg.format]
    with torch.no_grad():
        run_exported = exporter(model, inputs[:2], path)
        expected = model(inputs)
        actual = run_exported(inputs)
    difference = (expected - actual).abs().max().item()
    console.print(
        f"{cfg.format}: max abs difference to the checkpoint on a batch of {len(inputs)}: "
        f"{difference:.3g} (tolerance {cfg.atol:g})",
        soft_wrap=True,
    )
    if not difference <= cfg.atol:
        raise ExportMismatchError(
            f"the exported {cfg.format} model differs from the checkpoint by {difference:.3g} "
            f"> atol={cfg.atol:g}; {path} must not be shipped"
        )
    run_config = checkpoint.parent.parent / CONFIG
    if run_config.is_file():
        shutil.copy(run_config, out_dir / CONFIG)
    hparams = task.hparams
    (out_dir / "model.json").write_text(
        json.dumps(
            {
                "format": cfg.format,
                "file": path.name,
                "checkpoint": str(checkpoint),
                "input_shape": list(hparams.input_shape),
                "num_outputs": hparams.num_outputs,
                "class_names": hparams.class_names,
                "outputs": "logits" if hparams.class_names else "values",
                "max_abs_difference": difference,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"[bold]exported[/bold] {path}", soft_wrap=True)
    return path
