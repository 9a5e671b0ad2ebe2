"""Forecasting on the synthetic sines: the regression task, its metrics and its plot."""

from pathlib import Path

import lightning as L
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.pipelines.build import build_data
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task
from {{ cookiecutter.package_name }}.tasks.regression import RegressionTask

from .conftest import PLOTTED_RUN

# Narrower than the defaults, to keep the suite fast; the defaults train in test_matrix.py.
SMALL = {"lstm": ["model.hidden_size=32"], "transformer": ["model.d_model=32"]}


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_sine_forecasting_trains_and_plots_predictions(make_cfg, model):
    cfg = make_cfg(
        ["data=sine", f"model={model}", *SMALL[model], "data.batch_size=32", *PLOTTED_RUN]
    )
    metrics = train(cfg)
    for name in ("test/loss", "test/mae", "test/r2", "val/r2"):
        assert np.isfinite(metrics[name]), name
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / "plots" / "predictions.png").stat().st_size > 10_000

    task = load_task(run_dir / "checkpoints" / "best.ckpt")
    assert isinstance(task, RegressionTask)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    trainer.test(task, datamodule=build_data(task.hparams.data), verbose=False)
    figure = task.test_figures()["predictions"]
    # A row per channel, named: three test windows over time in seconds (sine.yaml's 50 Hz),
    # each with its true and forecast next step, then every test forecast of the channel.
    rows = np.array(figure.axes).reshape(3, 4)
    assert [row[0].get_ylabel() for row in rows] == ["0", "1", "2"]
    window = rows[0][0]
    assert window.get_xlabel() == "time (s)"
    times = window.lines[0].get_xdata()
    assert len(times) == 32 and times[1] == pytest.approx(1 / 50)
    assert window.lines[1].get_xdata() == pytest.approx([32 / 50])  # the step after the window
    scatter = rows[0][3]
    assert len(scatter.collections[0].get_offsets()) == len(trainer.datamodule.splits[2])
