"""One collector of the test outputs (``utils/tested_outputs.py``) feeds test_predictions.csv,
channel_metrics.csv and the regression plot; under DDP it gathers the processes' shares back
into the test order and drops the examples DistributedSampler repeats to even them out."""

import csv
import json
from pathlib import Path

import pytest

from .conftest import SHORT_RUN

# One test series of 17 windows: two processes test 9 each, the 18th a repeat of the first.
ODD_TEST_SET = ["data=sine", "data.num_series=6", "data.num_steps=300"]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_ddp_scores_each_test_example_once_as_one_process_does(run_script, log_dir):
    run_script("train.py", "trainer=ddp_sim", "model=gru", *ODD_TEST_SET, *SHORT_RUN)
    run = (log_dir / "train" / "latest").resolve()
    # The same checkpoint tested again in one process: no padding, the plain test order.
    run_script("eval.py", "run=latest", "trainer.accelerator=cpu", "trainer.devices=1")
    evaluated = (log_dir / "eval" / "latest").resolve()

    tested = read_rows(run / "test_predictions.csv")
    single = read_rows(evaluated / "test_predictions.csv")
    assert len(tested) == 17
    assert [(row["source"], row["start_frame"]) for row in tested] == [
        (row["source"], row["start_frame"]) for row in single
    ]
    for row, alone in zip(tested, single, strict=True):
        assert [float(row[c]) for c in "012"] == pytest.approx([float(alone[c]) for c in "012"])
    channels = zip(
        read_rows(run / "channel_metrics.csv"),
        read_rows(evaluated / "channel_metrics.csv"),
        strict=True,
    )
    for row, alone in channels:
        assert row["output"] == alone["output"]
        for score in ("mae", "r2", "baseline_mae"):
            assert float(row[score]) == pytest.approx(float(alone[score]), rel=1e-5), score
    trained = json.loads((run / "metrics.json").read_text())
    single_process = json.loads((evaluated / "metrics.json").read_text())
    assert trained["test/baseline_mae"] == pytest.approx(
        single_process["test/baseline_mae"], rel=1e-5
    )
