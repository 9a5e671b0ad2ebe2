"""What the engine costs: the training step through the task and trainer, through a bare
LightningModule, and as a hand-written PyTorch loop, on the same model, data and batch, in one
process, the loops alternating."""

import contextlib
import copy
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from ..data.base import DataModule
from ..models.outputs import prediction
from ..tasks import Task
from ..utils.config import save_config
from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError
from ..utils.runs import point_latest
from .build import build_data, build_task, build_trainer
from .speed import apply_speed_flags, compile_model

# Dense (no sparsity) datasheet peaks in TFLOP/s: 16-bit, TF32 and float32 matmuls. The first
# name contained in torch.cuda.get_device_name() wins, so longer names come first.
PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [
    ("H100 PCIe", {"16": 756.0, "tf32": 378.0, "32": 51.0}),
    ("H100 NVL", {"16": 835.0, "tf32": 418.0, "32": 60.0}),
    ("H100", {"16": 989.0, "tf32": 495.0, "32": 67.0}),
    ("H200", {"16": 989.0, "tf32": 495.0, "32": 67.0}),
    ("A100", {"16": 312.0, "tf32": 156.0, "32": 19.5}),
    ("L40S", {"16": 362.0, "tf32": 183.0, "32": 91.6}),
    ("L4", {"16": 121.0, "tf32": 60.0, "32": 30.3}),
]
TRUE_DTYPES = {
    "64-true": torch.float64,
    "32-true": torch.float32,
    "bf16-true": torch.bfloat16,
    "16-true": torch.float16,
}
MIXED_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def peak_tflops(device: torch.device, precision: str, matmul_precision: str | None) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for known, peaks in PEAK_TFLOPS:
        if known in name:
            if precision.startswith(("bf16", "16")):
                return peaks["16"]
            return peaks["tf32"] if matmul_precision in ("high", "medium") else peaks["32"]
    return None


class Sync:
    """Waits for the device, so a clock reading includes the work queued before it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()


class StepClock(L.Callback):
    """Times optimizer steps ``warmup`` to ``warmup + steps`` of a fit, batch end to batch end:
    everything the trainer, the task, its metrics, callbacks and loggers do per step."""

    def __init__(self, warmup: int, steps: int, sync: Sync) -> None:
        self.warmup, self.steps, self.sync = warmup, steps, sync
        self.start: float | None = None
        self.seconds = 0.0
        self.samples = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        if self.start is not None:
            self.samples += len(batch[0])
        if trainer.global_step == self.warmup and self.start is None:
            self.sync()
            self.start = time.perf_counter()
        elif trainer.global_step == self.warmup + self.steps and not self.seconds:
            self.sync()
            self.seconds = time.perf_counter() - self.start


def endless(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


class RawLoop:
    """The loop a researcher would write by hand: same model, optimizer, loss, batches, device,
    precision, gradient accumulation and clipping; nothing else (no metrics, no logging)."""

    def __init__(self, cfg: DictConfig, task: Task, trainer: L.Trainer, datamodule: DataModule):
        self.device = trainer.strategy.root_device
        self.precision = str(trainer.precision)
        self.model = copy.deepcopy(task.model).to(self.device)
        if self.precision in TRUE_DTYPES:
            self.model.to(TRUE_DTYPES[self.precision])
        elif self.precision not in MIXED_DTYPES:
            raise ConfigError(
                f"benchmark.py cannot hand-write trainer.precision={self.precision}; use one of "
                f"{', '.join([*TRUE_DTYPES, *MIXED_DTYPES])}"
            )
        if cfg.get("compile"):
            compile_model(self.model)
        self.optimizer = instantiate(cfg.optimizer, params=self.model.parameters())
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "16-mixed")
        self.loss = task.loss
        self.accumulate = int(trainer.accumulate_grad_batches)
        self.clip_value = trainer.gradient_clip_val
        self.clip_by_value = trainer.gradient_clip_algorithm == "value"
        self.batches = endless(datamodule.train_dataloader())

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision in MIXED_DTYPES:
            return torch.autocast(self.device.type, dtype=MIXED_DTYPES[self.precision])
        return contextlib.nullcontext()

    def step(self) -> int:
        """One optimizer step; returns the samples it saw."""
        samples = 0
        for _ in range(self.accumulate):
            inputs, targets = next(self.batches)
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            if self.precision in TRUE_DTYPES and inputs.is_floating_point():
                inputs = inputs.to(TRUE_DTYPES[self.precision])
            with self.autocast():
                loss = self.loss(self.model(inputs), targets) / self.accumulate
            self.scaler.scale(loss).backward()
            samples += len(inputs)
        if self.clip_value:
            self.scaler.unscale_(self.optimizer)
            if self.clip_by_value:
                torch.nn.utils.clip_grad_value_(self.model.parameters(), self.clip_value)
            else:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_value)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return samples

    def time(self, warmup: int, steps: int, sync: Sync) -> tuple[float, int]:
        self.model.train()
        for _ in range(warmup):
            self.step()
        sync()
        start = time.perf_counter()
        samples = sum(self.step() for _ in range(steps))
        sync()
        return time.perf_counter() - start, samples


def flops_per_step(task: Task, datamodule: DataModule, device: torch.device) -> int:
    """Forward and backward FLOPs of one batch, counted by torch on an uncompiled copy."""
    model = copy.deepcopy(task.model).to(device)
    inputs, _ = next(iter(datamodule.train_dataloader()))
    with FlopCounterMode(display=False) as counter:
        prediction(model(inputs.to(device))).sum().backward()
    return int(counter.get_total_flops())


def startup_seconds(project_root: Path, runs: int) -> float:
    """Median wall time of ``python train.py --cfg job``: what every command costs at least."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "train.py", "--cfg", "job"],
            cwd=project_root,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # Linux reports kilobytes, macOS bytes.
    unit = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def summary(
    seconds: list[float], samples: list[int], steps: int, flops: int, peak: float | None
) -> dict[str, Any]:
    """The median repeat's figures; every repeat's time is kept to judge the spread."""
    median = statistics.median(seconds)
    tflops = flops * steps / median / 1e12
    return {
        "step_time_ms": median / steps * 1e3,
        "samples_per_s": statistics.median(n / t for n, t in zip(samples, seconds, strict=True)),
        "repeat_times_s": seconds,
        "tflops": tflops,
        "mfu": tflops / peak if peak else None,
    }


class BareModule(L.LightningModule):
    """The least a LightningModule can be: the task's model, loss and optimizer, without
    metrics or logging. Timed under a trainer without callbacks or loggers, it is Lightning's
    own per-step cost, which separates the trainer's overhead from the task's."""

    def __init__(self, model: torch.nn.Module, loss: Callable[..., torch.Tensor], optimizer: Any):
        super().__init__()
        self.model, self.loss, self.optimizer_cfg = model, loss, optimizer

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        return self.loss(self.model(inputs), targets)

    def configure_optimizers(self) -> Any:
        return instantiate(self.optimizer_cfg, params=self.parameters())


def fit_task(cfg: DictConfig, task: Task, datamodule: DataModule, clock: StepClock) -> None:
    # The model summary is printed once per fit, before any timed step: not a step cost.
    trainer = build_trainer(
        cfg, max_steps=clock.warmup + clock.steps, max_epochs=-1, enable_model_summary=False
    )
    apply_speed_flags(cfg, trainer)
    trainer.callbacks.append(clock)
    trainer.fit(task, datamodule=datamodule)


def fit_bare(cfg: DictConfig, bare: BareModule, datamodule: DataModule, clock: StepClock) -> None:
    trainer = instantiate(
        cfg.trainer,
        max_steps=clock.warmup + clock.steps,
        max_epochs=-1,
        logger=False,
        callbacks=[clock],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(bare, train_dataloaders=datamodule.train_dataloader())


LOOPS = {
    "task": "task + trainer",
    "bare_lightning": "bare LightningModule",
    "raw": "hand-written loop",
}


def time_loops(
    loops: dict[str, Callable[[], tuple[float, int]]], repeats: int, device: torch.device
) -> dict[str, tuple[list[float], list[int], float]]:
    """Each loop's seconds and samples per repeat, and its peak memory. The loops take
    turns, so a slow spell of a shared machine hits each of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    samples: dict[str, list[int]] = {name: [] for name in loops}
    peaks = dict.fromkeys(loops, 0.0)
    for _ in range(repeats):
        for name, loop in loops.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            elapsed, seen = loop()
            seconds[name].append(elapsed)
            samples[name].append(seen)
            peaks[name] = max(peaks[name], peak_memory_mb(device))
    return {name: (seconds[name], samples[name], peaks[name]) for name in loops}


def benchmark(cfg: DictConfig, project_root: Path) -> dict[str, Any]:
    silence_known_warnings()
    options = cfg.benchmark
    warmup, steps = int(options.warmup), int(options.steps)
    if warmup < 1 or steps < 1:
        raise ConfigError(
            f"benchmark.warmup={warmup} and benchmark.steps={steps} must both be at least 1"
        )
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    save_config(cfg, run_dir)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = build_data(cfg.data)
    datamodule.setup("fit")
    task = build_task(cfg, datamodule)
    probe = build_trainer(cfg)
    if probe.world_size != 1:
        raise ConfigError(
            f"benchmark.py times one device, not {probe.world_size} processes; "
            "use trainer.devices=1 (and no DDP/FSDP strategy)"
        )
    raw = RawLoop(cfg, task, probe, datamodule)
    bare = BareModule(copy.deepcopy(task.model), task.loss, cfg.optimizer)
    device = raw.device
    flops = flops_per_step(task, datamodule, device) * raw.accumulate
    if cfg.get("compile"):
        compile_model(bare.model)
    sync = Sync(device)
    peak = options.peak_tflops or peak_tflops(device, raw.precision, cfg.get("matmul_precision"))

    def timed(
        fit: Callable[..., None], module: L.LightningModule
    ) -> Callable[[], tuple[float, int]]:
        def run() -> tuple[float, int]:
            clock = StepClock(warmup, steps, sync)
            fit(cfg, module, datamodule, clock)
            return clock.seconds, clock.samples

        return run

    loops: dict[str, Callable[[], tuple[float, int]]] = {
        "task": timed(fit_task, task),
        "bare_lightning": timed(fit_bare, bare),
        "raw": lambda: raw.time(warmup, steps, sync),
    }
    timings = time_loops(loops, int(options.repeats), device)
    choices = HydraConfig.get().runtime.choices
    results: dict[str, Any] = {
        "model": choices.get("model"),
        "data": choices.get("data"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "precision": raw.precision,
        "compile": bool(cfg.get("compile")),
        "batch_size": datamodule.batch_size,
        "steps": steps,
        "warmup": warmup,
        "repeats": int(options.repeats),
        "flops_per_step": flops,
        "peak_tflops": peak,
        "peak_memory_kind": (
            "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process max RSS"
        ),
        "startup_s": startup_seconds(project_root, int(options.startup_runs)),
    }
    for name, (seconds, samples, memory) in timings.items():
        results[name] = {**summary(seconds, samples, steps, flops, peak), "peak_memory_mb": memory}
    raw_ms = results["raw"]["step_time_ms"]
    results["overhead_ratio"] = results["task"]["step_time_ms"] / raw_ms
    results["lightning_ratio"] = results["bare_lightning"]["step_time_ms"] / raw_ms
    # In milliseconds the trainer's cost is a constant per step whatever the model, which
    # the ratio hides: a ratio near 1 needs a step long enough to dwarf it.
    results["overhead_ms"] = results["task"]["step_time_ms"] - raw_ms
    results["lightning_overhead_ms"] = results["bare_lightning"]["step_time_ms"] - raw_ms
    (run_dir / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    point_latest(cfg.paths.log_dir, cfg.task_name, run_dir)  # only a run that finished
    print_benchmark(results, run_dir)
    return results


def print_benchmark(results: dict[str, Any], run_dir: Path) -> None:
    table = Table(
        title=f"{results['model']} on {results['data']}, {results['device']}, "
        f"{results['precision']}, batch {results['batch_size']}"
    )
    for column in ("loop", "step ms", "samples/s", "TFLOP/s", "MFU", "peak MB"):
        table.add_column(column, justify="right")
    for name, label in LOOPS.items():
        row = results[name]
        table.add_row(
            label,
            f"{row['step_time_ms']:.3f}",
            f"{row['samples_per_s']:.0f}",
            f"{row['tflops']:.4f}",
            f"{row['mfu']:.1%}" if row["mfu"] is not None else "-",
            f"{row['peak_memory_mb']:.0f}",
        )
    console.print(table)
    console.print(
        f"[bold]overhead ratio:[/bold] {results['overhead_ratio']:.3f} "
        f"(task + trainer / hand-written; Lightning alone: {results['lightning_ratio']:.3f})"
    )
    console.print(
        f"[bold]overhead per step:[/bold] {results['overhead_ms']:.3f} ms "
        f"(Lightning alone: {results['lightning_overhead_ms']:.3f} ms)"
    )
    console.print(f"[bold]start-up (train.py --cfg job):[/bold] {results['startup_s']:.2f} s")
    console.print(f"[bold]results:[/bold] {run_dir / 'benchmark.json'}", soft_wrap=True)
