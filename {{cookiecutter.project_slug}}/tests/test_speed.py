"""Speed flags, a command line that answers without torch, and the benchmark's report."""

import json
import math
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from torch._dynamo.utils import counters
from torch.utils.data import default_collate

from {{ cookiecutter.package_name }}.data.batches import BatchDataset
from {{ cookiecutter.package_name }}.data.digits import DigitsDataModule
from {{ cookiecutter.package_name }}.data.image_preprocessing import ImageDataset, augment_batch
from {{ cookiecutter.package_name }}.data.preprocessing import Affine
from {{ cookiecutter.package_name }}.data.sine import SineDataModule
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
from {{ cookiecutter.package_name }}.pipelines.speed import set_matmul_precision
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task
from {{ cookiecutter.package_name }}.utils.errors import ConfigError
from {{ cookiecutter.package_name }}.utils.progress import ProgressBar
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


@pytest.mark.parametrize(
    ("overrides", "steps"),
    [
        (["trainer.limit_train_batches=5"], 5),
        (["+trainer.max_steps=7", "trainer.limit_train_batches=null"], 7),
    ],
    ids=["limit_train_batches", "max_steps"],
)
def test_training_metrics_see_every_batch_however_the_epoch_ends(make_cfg, overrides, steps):
    """Training batches join the metrics log_every_n_steps at a time, and the rest when the
    epoch ends: on the loader's last batch, on limit_train_batches or on max_steps."""
    cfg = make_cfg([*BRIEFLY, *overrides, "trainer.log_every_n_steps=3"])
    datamodule = build_data(cfg.data)
    trainer = build_trainer(cfg)
    batches = BatchLosses()
    trainer.callbacks.append(batches)
    trainer.fit(build_task(cfg, datamodule), datamodule=datamodule)
    assert len(batches.train) == steps
    assert batches.at_epoch_end["train/loss"] == pytest.approx(weighted_mean(batches.train))
    assert {"train/acc", "train/f1"} <= set(batches.at_epoch_end)


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("data", [DigitsDataModule, SineDataModule])
def test_in_memory_data_loads_whole_batches_in_the_samplers_order(data, num_workers):
    """What the default collate would stack from the examples, one indexing per batch."""
    datamodule = data(batch_size=100, num_workers=num_workers)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    assert isinstance(loader.dataset, BatchDataset)
    order = list(loader.sampler)
    dataset = datamodule.splits[0]
    count = 0
    for number, batch in enumerate(loader):
        examples = [dataset[i] for i in order[number * 100 : (number + 1) * 100]]
        expected = default_collate(examples)
        assert [tensor.shape for tensor in batch] == [tensor.shape for tensor in expected]
        assert all(torch.equal(got, want) for got, want in zip(batch, expected, strict=True))
        count += len(batch[0])
    assert count == len(dataset)


def test_batched_augmentation_crops_and_mirrors_each_image_on_its_own():
    images = torch.randint(0, 256, (64, 3, 8, 8)).float()
    torch.manual_seed(0)
    augmented = augment_batch(images, crop_padding=2, flip=True)
    torch.manual_seed(0)
    top, left = torch.randint(0, 5, (2, 64))
    mirrored = torch.rand(64) < 0.5
    padded = torch.nn.functional.pad(images, (2,) * 4)
    for n in range(64):
        crop = padded[n, :, top[n] : top[n] + 8, left[n] : left[n] + 8]
        assert torch.equal(augmented[n], crop.flip(-1) if mirrored[n] else crop)
    assert 0 < int(mirrored.sum()) < 64 and len({*top.tolist()}) > 1
    # Without augmentation, a dataset's batch is its images encoded, and their labels.
    dataset = ImageDataset(images.byte(), torch.arange(64), Affine(2.0, -1.0))
    inputs, labels = dataset.__getitems__([5, 9])
    assert torch.equal(inputs, images[[5, 9]] * 2.0 - 1.0) and labels.tolist() == [5, 9]


def test_amp_picks_bf16_on_a_cpu(make_cfg):
    assert make_cfg(["trainer=amp", "trainer.accelerator=cpu"]).trainer.precision == "bf16-mixed"
    assert mixed_precision("cpu") == "bf16-mixed"


# Slow: inductor spends half a minute compiling the model's kernels on a CPU.
@pytest.mark.slow
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
        "benchmark.peak_tflops=0.001",
        "trainer.accelerator=cpu",
    )
    report = json.loads((log_dir / "benchmark" / "latest" / "benchmark.json").read_text())
    assert report["model"] == "mlp" and report["data"] == "digits"
    assert report["device"] == "cpu" and report["precision"] == "32-true"
    assert report["flops_per_step"] > 0
    assert report["peak_tflops"] == 0.001
    assert report["loader_ms_per_batch"] > 0
    for loop in ("task", "bare_lightning", "raw"):
        figures = report[loop]
        assert len(figures["repeat_times_s"]) == 2
        assert figures["step_time_ms"] > 0 and figures["samples_per_s"] > 0
        assert figures["tflops"] > 0
        assert figures["mfu"] == pytest.approx(figures["tflops"] / 0.001)
        assert figures["peak_memory_mb"] > 10
    step_ms = {loop: report[loop]["step_time_ms"] for loop in ("task", "bare_lightning", "raw")}
    assert report["template_ratio"] == pytest.approx(step_ms["task"] / step_ms["bare_lightning"])
    assert report["lightning_ratio"] == pytest.approx(step_ms["bare_lightning"] / step_ms["raw"])


def test_the_progress_bar_redraws_a_few_times_a_second_and_counts_each_epochs_last_batch(
    monkeypatch,
):
    updated, drawn = [], []

    def update(self, trainer, pl_module, outputs, batch, batch_idx):
        updated.append(batch_idx)
        self.refresh()

    monkeypatch.setattr(RichProgressBar, "on_train_batch_end", update)
    monkeypatch.setattr(RichProgressBar, "refresh", lambda self, hard=False: drawn.append(hard))
    monkeypatch.setattr(ProgressBar, "total_train_batches", 500)
    bar = ProgressBar(per_second=10)
    start = time.monotonic()
    for batch_idx in range(500):  # far faster than ten batches a second
        bar.on_train_batch_end(None, None, None, None, batch_idx)
        bar.refresh()  # as Lightning does at epoch ends and validation batches
    elapsed = time.monotonic() - start
    assert updated[0] == 0 and updated[-1] == 499
    assert len(updated) <= 2 + elapsed * 10
    assert 1 <= len(drawn) <= 1 + elapsed * 10
    bar.refresh(hard=True)
    assert drawn[-1] is True
