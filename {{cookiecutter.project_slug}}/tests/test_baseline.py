"""A small CPU run must keep matching the stored baseline, within a tolerance.

Exact equality would break on another CPU, OS or library version; a real regression
(a bug in the loss, the data split, the optimiser) moves the metrics far more.
Refresh the baseline after an intended change: UPDATE_BASELINE=1 pytest tests/test_baseline.py
"""

import json
import os
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.pipelines.train import train

BASELINE = Path(__file__).parent / "baselines" / "digits_mlp.json"
RUN = [
    "seed=0",
    "trainer.deterministic=true",
    "trainer.max_epochs=3",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "callbacks.plots=null",
]
# Absolute tolerance per metric.
TOLERANCE = {"test/acc": 0.03, "test/f1": 0.03, "test/loss": 0.05, "val/loss": 0.05}


def test_metrics_match_the_stored_baseline(make_cfg):
    metrics = train(make_cfg(RUN))
    measured = {name: round(metrics[name], 4) for name in TOLERANCE}
    if os.environ.get("UPDATE_BASELINE") == "1":
        BASELINE.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
    baseline = json.loads(BASELINE.read_text())
    for name, tolerance in TOLERANCE.items():
        assert measured[name] == pytest.approx(baseline[name], abs=tolerance), (
            f"{name} moved from the baseline {baseline[name]} to {measured[name]}; if intended, "
            "refresh it with UPDATE_BASELINE=1 pytest tests/test_baseline.py"
        )
