"""What the engine costs: the training step through the task and trainer, through a bare
LightningModule, and as a hand-written PyTorch loop, on the same model, data and batch, in one
process, the loops alternating; and what the data loader alone costs per batch."""

import copy
import json
import resource
import statistics
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

LOOPS = {
    "task": "task + trainer",
    "bare_lightning": "bare LightningModule",
    "raw": "hand-written loop",
}


def sync(device: torch.device) -> None:
    """Wait for the device, so a clock reading includes the work queued before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class StepClock(L.Callback):
    """Times optimizer steps ``warmup`` to ``warmup + steps`` of a fit, batch end to batch end:
    everything the trainer, the task, its metrics, callbacks and loggers do per step."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.start: float | None = None
        self.seconds = 0.0
        self.samples = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        if self.start is not None:
            self.samples += len(batch[0])
        if trainer.global_step == self.warmup and self.start is None:
            sync(pl_module.device)
            self.start = time.perf_counter()
        elif trainer.global_step == self.warmup + self.steps and not self.seconds:
            sync(pl_module.device)
            self.seconds = time.perf_counter() - self.start


def endless(loader: Any) -> Iterator[Any]:
    while True:
        yield from loader


class RawLoop:
    """The loop a researcher writes by hand: forward, loss, backward, optimizer step, on the
    same model, optimizer, loss and batches. It leaves out what the trainer's config may add
    (mixed precision, gradient accumulation and clipping, metrics, logging), so compare it
    with the default trainer (32-bit, no accumulation, no clipping)."""

    def __init__(self, cfg: DictConfig, task: Task, device: torch.device, loader: Any) -> None:
        self.device = device
        self.model = copy.deepcopy(task.model).to(device)
        if cfg.get("compile"):
            compile_model(self.model)
        self.optimizer = instantiate(cfg.optimizer, params=self.model.parameters())
        self.loss = task.loss
        self.batches = endless(loader)

    def step(self) -> int:
        """One optimizer step; returns the samples it saw."""
        inputs, targets = next(self.batches)
        inputs, targets = inputs.to(self.device), targets.to(self.device)
        self.loss(self.model(inputs), targets).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return len(inputs)

    def time(self, warmup: int, steps: int) -> tuple[float, int]:
        self.model.train()
        for _ in range(warmup):
            self.step()
        sync(self.device)
        start = time.perf_counter()
        samples = sum(self.step() for _ in range(steps))
        sync(self.device)
        return time.perf_counter() - start, samples


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


def loader_seconds(datamodule: DataModule, batches: int) -> float:
    """Seconds the training loader alone takes for ``batches`` batches, epochs chained."""
    loader = endless(datamodule.train_dataloader())
    next(loader)  # the first batch starts the workers, if any
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return time.perf_counter() - start


def flops_per_step(task: Task, datamodule: DataModule, device: torch.device) -> int:
    """Forward and backward FLOPs of one batch, counted by torch on an uncompiled copy."""
    model = copy.deepcopy(task.model).to(device)
    inputs, _ = next(iter(datamodule.train_dataloader()))
    with FlopCounterMode(display=False) as counter:
        prediction(model(inputs.to(device))).sum().backward()
    return int(counter.get_total_flops())


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # Linux reports kilobytes, macOS bytes.
    unit = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


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


def benchmark(cfg: DictConfig) -> dict[str, Any]:
    silence_known_warnings()
    options = cfg.benchmark
    warmup, steps, repeats = int(options.warmup), int(options.steps), int(options.repeats)
    if warmup < 1 or steps < 1 or repeats < 1:
        raise ConfigError(
            f"benchmark.warmup={warmup}, benchmark.steps={steps} and benchmark.repeats={repeats} "
            "must all be at least 1"
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
    device = probe.strategy.root_device
    raw = RawLoop(cfg, task, device, datamodule.train_dataloader())
    bare = BareModule(copy.deepcopy(task.model), task.loss, cfg.optimizer)
    if cfg.get("compile"):
        compile_model(bare.model)
    flops = flops_per_step(task, datamodule, device)
    # MFU needs the device's peak, which torch does not report: the user gives it.
    peak = options.peak_tflops

    def timed(
        fit: Callable[..., None], module: L.LightningModule
    ) -> Callable[[], tuple[float, int]]:
        def run() -> tuple[float, int]:
            clock = StepClock(warmup, steps)
            fit(cfg, module, datamodule, clock)
            return clock.seconds, clock.samples

        return run

    loops: dict[str, Callable[[], tuple[float, int]]] = {
        "task": timed(fit_task, task),
        "bare_lightning": timed(fit_bare, bare),
        "raw": lambda: raw.time(warmup, steps),
        "loader": lambda: (loader_seconds(datamodule, steps), 0),
    }
    timings = time_loops(loops, repeats, device)
    choices = HydraConfig.get().runtime.choices
    results: dict[str, Any] = {
        "model": choices.get("model"),
        "data": choices.get("data"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "precision": str(probe.precision),
        "batch_size": datamodule.batch_size,
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        "flops_per_step": flops,
        "peak_tflops": peak,
        "peak_memory_kind": (
            "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process max RSS"
        ),
        "loader_ms_per_batch": statistics.median(timings.pop("loader")[0]) / steps * 1e3,
    }
    for name, (seconds, samples, memory) in timings.items():
        results[name] = {**summary(seconds, samples, steps, flops, peak), "peak_memory_mb": memory}
    step_ms = {name: results[name]["step_time_ms"] for name in LOOPS}
    # What this project adds to Lightning, and what Lightning adds to a hand-written loop.
    results["template_ratio"] = step_ms["task"] / step_ms["bare_lightning"]
    results["lightning_ratio"] = step_ms["bare_lightning"] / step_ms["raw"]
    (run_dir / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    point_latest(cfg.paths.log_dir, cfg.task_name, run_dir)  # only a run that finished
    print_benchmark(results, run_dir)
    return results


def print_benchmark(results: dict[str, Any], run_dir: Path) -> None:
    table = Table(
        title=f"{results['model']} on {results['data']}, {results['device']}, "
        f"{results['precision']}, batch {results['batch_size']}"
    )
    for column in ("loop", "step ms", "samples/s", "MFU", "peak MB"):
        table.add_column(column, justify="right")
    for name, label in LOOPS.items():
        row = results[name]
        table.add_row(
            label,
            f"{row['step_time_ms']:.3f}",
            f"{row['samples_per_s']:.0f}",
            f"{row['mfu']:.1%}" if row["mfu"] is not None else "-",
            f"{row['peak_memory_mb']:.0f}",
        )
    console.print(table)
    console.print(
        f"[bold]task + trainer / bare Lightning:[/bold] {results['template_ratio']:.3f} "
        f"(bare Lightning / hand-written: {results['lightning_ratio']:.3f})"
    )
    console.print(f"[bold]loader alone:[/bold] {results['loader_ms_per_batch']:.3f} ms/batch")
    if results["peak_tflops"] is None:
        console.print("MFU: set benchmark.peak_tflops to the device's peak TFLOP/s")
    console.print(f"[bold]results:[/bold] {run_dir / 'benchmark.json'}", soft_wrap=True)
