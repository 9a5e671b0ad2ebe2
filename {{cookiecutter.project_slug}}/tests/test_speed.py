"""Speed flags, a command line that answers without torch, and the benchmark's report."""

import json
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from torch._dynamo.utils import counters

from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
from {{ cookiecutter.package_name }}.pipelines.speed import set_matmul_precision
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task
from {{ cookiecutter.package_name }}.utils.errors import ConfigError
from {{ cookiecutter.package_name }}.utils.resolvers import mixed_precision

from .briefly import BRIEFLY
from .conftest import SHORT_RUN, run_python


class BatchLosses(L.Callback):
    """Every training and validation batch's loss and size, and the metrics that callbacks
    see when the training epoch ends."""

    def __init__(self) -> None:
        self.train: list[tuple[float, int]] = []
        self.val: list[tuple[float, int]] = []
        self.at_epoch_end: dict[str, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train.append((float(outputs["loss"]), len(batch[0])))

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *_):
        if not trainer.sanity_checking:
            self.val.append((float(outputs), len(batch[0])))

    def on_train_epoch_end(self, trainer, pl_module):
        self.at_epoch_end = {name: float(v) for name, v in trainer.callback_metrics.items()}


def weighted_mean(losses: list[tuple[float, int]]) -> float:
    return sum(loss * size for loss, size in losses) / sum(size for _, size in losses)


def test_epoch_loss_is_the_size_weighted_mean_that_callbacks_see(make_cfg):
    """Metrics are logged once per epoch, not per step; the figures must not change."""
    # 1,257 training examples in batches of 500, 500 and 257.
    overrides = ["trainer.limit_train_batches=null", "trainer.limit_val_batches=null"]
    cfg = make_cfg([*BRIEFLY, *overrides, "data.batch_size=500"])
    datamodule = build_data(cfg.data)
    trainer = build_trainer(cfg)
    batches = BatchLosses()
    trainer.callbacks.append(batches)
    trainer.fit(build_task(cfg, datamodule), datamodule=datamodule)
    assert sorted(size for _, size in batches.train) == [257, 500, 500]
    assert batches.at_epoch_end["train/loss"] == pytest.approx(weighted_mean(batches.train))
    assert batches.at_epoch_end["val/loss"] == pytest.approx(weighted_mean(batches.val))
    assert {"train/acc", "val/acc", "val/f1"} <= set(batches.at_epoch_end)


def test_amp_picks_bf16_on_a_cpu(make_cfg):
    assert make_cfg(["trainer=amp", "trainer.accelerator=cpu"]).trainer.precision == "bf16-mixed"
    assert mixed_precision("cpu") == "bf16-mixed"


def test_compiled_mixed_precision_run_saves_a_plain_checkpoint(make_cfg):
    torch._dynamo.reset()
    counters.clear()
    cfg = make_cfg(
        ["trainer=amp", "compile=true", "matmul_precision=high", "model=mlp", *SHORT_RUN]
    )
    try:
        metrics = train(cfg)
    finally:
        torch.set_float32_matmul_precision("highest")
    assert counters["stats"]["unique_graphs"] > 0, "torch.compile compiled nothing"
    assert math.isfinite(metrics["test/loss"])
    run_dir = Path(cfg.paths.output_dir)
    assert "precision: bf16-mixed" in (run_dir / "config.resolved.yaml").read_text()
    # The compiled model keeps its parameter names: the checkpoint loads uncompiled.
    task = load_task(run_dir / "checkpoints" / "best.ckpt")
    assert task(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_an_unknown_matmul_precision_is_refused():
    with pytest.raises(ConfigError, match="highest, high, medium"):
        set_matmul_precision("fastest")


@pytest.mark.parametrize(
    "arguments",
    [["--help"], ["--cfg", "job", "model=transformer"], ["model=nope"]],
    ids=["help", "cfg-job", "bad-override"],
)
def test_the_command_line_answers_without_importing_torch(arguments):
    result = run_python("-X", "importtime", "train.py", *arguments, timeout=120)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "hydra" in imported, result.stderr[-2000:]
    assert not {"torch", "lightning"} & imported


@pytest.mark.slow
def test_benchmark_reports_every_figure(run_script, log_dir):
    run_script(
        "benchmark.py",
        "benchmark.steps=3",
        "benchmark.warmup=1",
        "benchmark.repeats=2",
        "benchmark.startup_runs=1",
        "trainer.accelerator=cpu",
    )
    report = json.loads((log_dir / "benchmark" / "latest" / "benchmark.json").read_text())
    assert report["model"] == "mlp" and report["data"] == "digits"
    assert report["device"] == "cpu" and report["precision"] == "32-true"
    assert report["flops_per_step"] > 0
    assert report["peak_tflops"] is None
    assert 0 < report["startup_s"] < 60
    assert report["overhead_ratio"] > 0 and report["lightning_ratio"] > 0
    for loop in ("task", "bare_lightning", "raw"):
        figures = report[loop]
        assert len(figures["repeat_times_s"]) == 2
        assert figures["step_time_ms"] > 0 and figures["samples_per_s"] > 0
        assert figures["tflops"] > 0 and figures["mfu"] is None
        assert figures["peak_memory_mb"] > 10
    assert report["overhead_ratio"] == pytest.approx(
        report["task"]["step_time_ms"] / report["raw"]["step_time_ms"]
    )
    assert report["overhead_ms"] == pytest.approx(
        report["task"]["step_time_ms"] - report["raw"]["step_time_ms"]
    )
    assert report["lightning_overhead_ms"] == pytest.approx(
        report["bare_lightning"]["step_time_ms"] - report["raw"]["step_time_ms"]
    )
