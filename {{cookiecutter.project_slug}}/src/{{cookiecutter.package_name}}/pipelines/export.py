"""Ship a past run's model as ONNX or TorchScript that takes raw inputs and answers in the
user's units, proven equal to the checkpoint's ``Predictor`` before anything is kept."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from ..utils.config import CONFIG
from ..utils.config_checks import validate
from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError, UserError
from ..utils.runs import trained_run

if TYPE_CHECKING:  # torch is imported lazily: the CLI answers config errors without it
    import torch

    from ..data.preprocessing import Preprocessing

Runner = Callable[["torch.Tensor"], "torch.Tensor"]

FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}
INPUT_NAME = "raw"
MODEL_JSON, PREPROCESS_JSON = "model.json", "preprocess.json"
# ONNX files are protobufs, capped at 2 GiB: heavier weights go to a ``model.onnx.data`` file.
EMBEDDED_WEIGHTS_LIMIT = 1 << 30
# The synthetic check batch: its size, and the share of values left missing (NaN) when the
# encoding fills missing values.
SYNTHETIC_EXAMPLES, MISSING_SHARE = 64, 0.1


class ExportMismatchError(UserError):
    """The exported model does not answer as the checkpoint does: nothing is kept."""


def export_onnx(module: torch.nn.Module, example: torch.Tensor, path: Path, output: str) -> Runner:
    import onnxruntime
    import torch

    weights = sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))
    batch = torch.export.Dim("batch", min=1)
    # The exporter's notes on torch's own internals (deprecations, torchvision's operators)
    # are nothing a user can act on; the check below says whether the export is good.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", r".*were assigned during export", UserWarning)
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[output],
            dynamic_shapes=({0: batch},),
            external_data=weights > EMBEDDED_WEIGHTS_LIMIT,
            dynamo=True,
            verbose=False,
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {INPUT_NAME: x.numpy()})[0])


def export_torchscript(
    module: torch.nn.Module, example: torch.Tensor, path: Path, output: str
) -> Runner:
    import torch

    with warnings.catch_warnings():
        # "the trace might not generalize to other inputs": the check that follows runs it
        # on other inputs and batch sizes, and refuses a trace that does not.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.jit.save(torch.jit.trace(module, example), str(path))
    loaded = torch.jit.load(str(path))
    return lambda x: loaded(x)


EXPORTERS = {"onnx": export_onnx, "torchscript": export_torchscript}


def accepts_missing(encode: torch.nn.Module, shape: tuple[int, ...]) -> bool:
    import torch

    return bool(encode(torch.full((1, *shape), float("nan"))).isfinite().all())


def synthetic_raw(preprocessing: Preprocessing) -> torch.Tensor:
    """Raw examples for the check when the user gives no file (the training data need not be
    here): values the encoding maps to uniform [-1, 1], where the model was trained (the
    training data standardised or scaled to [-1, 1]), so the check runs the graph on
    outputs that are not saturated; a tenth missing where the encoding fills gaps.

    The raw range comes from the encoding itself (``encode(0)`` and ``encode(1)``) when it
    is an affine map per value, as the data options' scalings are; otherwise the raw values
    themselves are uniform in [-1, 1]."""
    import torch

    encode, shape = preprocessing.encode().eval(), preprocessing.raw_shape
    generator = torch.Generator().manual_seed(0)
    wanted = torch.rand((SYNTHETIC_EXAMPLES, *shape), generator=generator) * 2 - 1
    with torch.no_grad():
        shift = encode(torch.zeros(1, *shape))
        scale = encode(torch.ones(1, *shape)) - shift
        raw = wanted
        if shift.shape == (1, *shape) and bool(scale.isfinite().all()):
            # A value the encoding ignores (scale 0) stays 0: any raw value gives its shift.
            reachable = scale.abs() > 1e-12
            inverted = torch.where(reachable, (wanted - shift) / scale, 0.0)
            if torch.allclose(encode(inverted), torch.where(reachable, wanted, shift), atol=1e-4):
                raw = inverted
        if accepts_missing(encode, shape):
            missing = torch.rand(raw.shape, generator=generator) < MISSING_SHARE
            raw = raw.masked_fill(missing, float("nan"))
    return raw


def compare(
    run: Runner, predictor: Runner, raw: torch.Tensor, atol: float, rtol: float
) -> tuple[float, bool]:
    """The largest absolute difference to the checkpoint, and whether every value is within
    ``atol + rtol * |value|``, on the whole batch and on its first example alone (a served
    request is a batch of one)."""
    import torch

    difference, close = 0.0, True
    for batch in (raw, raw[:1]):
        expected = predictor(batch)
        with torch.no_grad():
            actual = run(batch).float()
        difference = max(difference, (actual - expected).abs().max().item())
        close = close and torch.allclose(actual, expected, rtol=rtol, atol=atol)
    return difference, close


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def interface(preprocessing: Preprocessing, output: str, missing: bool) -> dict[str, Any]:
    """What the exported graph takes and returns, for model.json."""
    names = preprocessing.output_names
    raw = "raw examples in the units of the user's files, read as preprocess.json's steps say"
    classifies = preprocessing.kind == "classification"
    return {
        "kind": preprocessing.kind,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", *preprocessing.raw_shape],
            "dtype": "float32",
            "units": raw + ("; NaN marks a missing value" if missing else ""),
        },
        "output": {
            "name": output,
            "shape": ["batch", len(names)],
            "dtype": "float32",
            ("class_names" if classifies else "output_names"): names,
            "units": "class probabilities (they sum to 1), in the order of class_names"
            if classifies
            else "predicted values in the target's own units, in the order of output_names",
        },
    }


def merged_exports(out_dir: Path, checksum: str, fmt: str) -> dict[str, Any]:
    """The other formats already exported here from the same checkpoint; files exported from
    another checkpoint are removed, so the folder never mixes two models."""
    previous = out_dir / MODEL_JSON
    try:
        described = json.loads(previous.read_text()) if previous.is_file() else {}
    except json.JSONDecodeError:
        described = {}
    kept = {}
    for other in FORMATS:
        entry = described.get("exports", {}).get(other)
        if other == fmt or not isinstance(entry, dict):
            continue
        if described.get("checkpoint_sha256") == checksum:
            kept[other] = entry
            continue
        for name in (FORMATS[other], FORMATS[other] + ".data"):
            if (out_dir / name).is_file():
                (out_dir / name).unlink()
                console.print(f"removed {out_dir / name}: it came from another checkpoint")
    return kept


def publish(staging: Path, out_dir: Path, fmt: str) -> None:
    """Move the checked files into place, model.json last, so the folder describes what it
    holds at every moment; a weights file of an earlier, heavier export goes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(staging.iterdir(), key=lambda path: path.name == MODEL_JSON)
    for path in files:
        os.replace(path, out_dir / path.name)
    weights = FORMATS[fmt] + ".data"
    if weights not in {path.name for path in files} and (out_dir / weights).is_file():
        (out_dir / weights).unlink()


def export(cfg: DictConfig) -> Path:
    validate(cfg)
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format} is not one of {', '.join(FORMATS)}")
    run = trained_run(cfg)
    given = Path(cfg.input) if cfg.get("input") else None
    if given is not None and not given.is_file():
        raise ConfigError(f"input={given} is not a file; give a raw input file or leave it out")

    silence_known_warnings()
    import torch

    predictor = run.predictor("cpu")
    preprocessing = predictor.preprocessing
    synthetic = synthetic_raw(preprocessing)
    checks = [(synthetic, f"{len(synthetic)} synthetic raw examples")]
    if given is not None:
        examples = preprocessing.read(given)
        checks.append((examples.raw, f"{len(examples)} examples of {given.name}"))
    output = "probabilities" if predictor.is_classifier else "values"
    missing = accepts_missing(preprocessing.encode().eval(), preprocessing.raw_shape)

    out_dir = Path(cfg.output_dir) if cfg.get("output_dir") else run.folder / "export"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        path = staging / FORMATS[cfg.format]
        with torch.no_grad():
            run_exported = EXPORTERS[cfg.format](predictor.module, synthetic[:2], path, output)
        results = [compare(run_exported, predictor, raw, cfg.atol, cfg.rtol) for raw, _ in checks]
        difference = max(gap for gap, _ in results)
        checked_on = " and ".join(what for _, what in checks)
        console.print(
            f"{cfg.format}: max abs difference to the checkpoint on {checked_on}: "
            f"{difference:.3g} (tolerance {cfg.atol:g} + {cfg.rtol:g} x value)",
            soft_wrap=True,
        )
        if not all(close for _, close in results):
            raise ExportMismatchError(
                f"the exported {cfg.format} model differs from the checkpoint by "
                f"{difference:.3g} > atol={cfg.atol:g} + rtol={cfg.rtol:g} x value on "
                f"{checked_on}; nothing was written"
            )
        checksum = sha256(run.checkpoint)
        exports = merged_exports(out_dir, checksum, cfg.format)
        exports[cfg.format] = {
            "files": sorted(p.name for p in staging.iterdir()),
            "max_abs_difference": difference,
            "atol": cfg.atol,
            "rtol": cfg.rtol,
            "checked_on": checked_on,
            "torch": torch.__version__,
        }
        run_config = run.folder / CONFIG
        if run_config.is_file():
            shutil.copy(run_config, staging / CONFIG)
        description = {
            "steps": preprocessing.steps(),
            "preprocessing": preprocessing.to_dict(),
        }
        (staging / PREPROCESS_JSON).write_text(json.dumps(description, indent=2) + "\n")
        model = {
            **interface(preprocessing, output, missing),
            "preprocess": PREPROCESS_JSON,
            "config": CONFIG if run_config.is_file() else None,
            "checkpoint": str(run.checkpoint),
            "checkpoint_sha256": checksum,
            "exports": dict(sorted(exports.items())),
        }
        (staging / MODEL_JSON).write_text(json.dumps(model, indent=2) + "\n")
        publish(staging, out_dir, cfg.format)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shipped = out_dir / FORMATS[cfg.format]
    console.print(f"[bold]exported[/bold] {shipped}", soft_wrap=True)
    return shipped
