"""Pictures, not only numbers: PNG plots in the run folder, and the rich console."""

from pathlib import Path

import torch
from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from matplotlib.image import imread

from {{ cookiecutter.package_name }}.pipelines.build import build_trainer
from {{ cookiecutter.package_name }}.pipelines.evaluate import evaluate
from {{ cookiecutter.package_name }}.pipelines.train import record_run, resolve_run, train
from {{ cookiecutter.package_name }}.utils.plot_callback import PlotCallback

from .conftest import PLOTTED_RUN, SHORT_RUN

# (height, width) in pixels at the default dpi of 100, for the digits' ten classes.
EXPECTED_SIZES = {
    "learning_curves": (320, 1200),  # loss, acc and f1 panels
    "confusion_matrix": (650, 750),
    "test_samples": (640, 640),  # 4 x 4 test images
}


def test_training_draws_learning_curves_confusion_matrix_and_samples(make_cfg):
    cfg = make_cfg(["logger=none", *PLOTTED_RUN])
    train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    for name, size in EXPECTED_SIZES.items():
        image = imread(run_dir / "plots" / f"{name}.png")
        assert image.shape[:2] == size, name
        assert image[..., :3].std() > 0.05, f"{name}.png is blank"

    # The curves' history travels with the checkpoint (written when validation ends, before
    # the epoch's training means exist), so a resumed run draws the epochs before it too.
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    [history] = [
        state["history"]
        for key, state in checkpoint["callbacks"].items()
        if key.startswith(PlotCallback.__qualname__)
    ]
    assert [row["epoch"] for row in history] == [0]
    assert {"val/loss", "val/acc"} <= set(history[0])


def test_evaluation_draws_the_test_figures_of_the_checkpoint(make_cfg):
    train(make_cfg(["logger=none", *SHORT_RUN, "test=false"]))
    cfg = make_cfg(
        ["run=latest", "trainer.accelerator=cpu", "trainer.limit_test_batches=2"],
        config_name="eval",
    )
    evaluate(cfg)
    plots = Path(cfg.paths.output_dir) / "plots"
    assert sorted(path.name for path in plots.iterdir()) == [
        "confusion_matrix.png",
        "test_samples.png",
    ]


def test_rich_progress_bar_and_model_summary_are_on_by_default(make_cfg):
    trainer = build_trainer(make_cfg(["logger=none"]))
    for kind in (RichProgressBar, RichModelSummary):
        assert any(isinstance(callback, kind) for callback in trainer.callbacks), kind


def test_config_tree_is_printed_and_kept_in_the_run_folder(make_cfg, capsys):
    cfg, run_dir, resume_from = resolve_run(make_cfg(["logger=none"]))
    record_run(cfg, run_dir, resume_from)
    saved = (run_dir / "config_tree.log").read_text()
    assert "model" in saved and cfg.model._target_ in saved
    assert cfg.model._target_ in capsys.readouterr().out
