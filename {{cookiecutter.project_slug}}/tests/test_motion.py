"""Motion capture done right, on a BVH file the tests write as a mocap tool would: the
sampling rate from its header, angles unwrapped, the root joint, constant channels, and
a trained model's predictions on its own training file equal to the experiment's."""

import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.data.preprocessing import from_dict
from {{ cookiecutter.package_name }}.data.recordings import read_recording
from {{ cookiecutter.package_name }}.data.sequence import SequenceDataModule
from {{ cookiecutter.package_name }}.utils.errors import ConfigError, DataError

from .conftest import run_python
from .datafiles import mocap, write_mocap
from .test_readme_data import COMMANDS as DATA_COMMANDS

RATE = 120.0


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mocap(tmp_path_factory.mktemp("mocap") / "walk.bvh", frames=1200, rate=RATE)


def cleaned(data: SequenceDataModule, channel: str) -> np.ndarray:
    """One channel of the whole recording, cleaned as training and predict.py clean it."""
    preprocessing = data.unfitted_preprocessing()
    values = preprocessing.clean(data.series[0].values, "walk")
    return values[:, preprocessing.channels.index(channel)]


def test_the_sampling_rate_comes_from_the_header_and_an_override_is_warned(walk, capsys):
    data = SequenceDataModule(path=str(walk), cutoff=6)
    assert data.fitted_preprocessing.sampling_rate == pytest.approx(RATE, rel=1e-6)
    assert capsys.readouterr().err.count("overrides") == 0

    overridden = SequenceDataModule(path=str(walk), sampling_rate=30, cutoff=6)
    assert overridden.fitted_preprocessing.sampling_rate == 30
    warnings = [line for line in capsys.readouterr().err.splitlines() if "overrides" in line]
    assert warnings == [
        "warning: data.sampling_rate=30 overrides the 120 Hz that walk.bvh's Frame Time "
        "gives (1 file(s) differ); leave data.sampling_rate unset to use the header"
    ]


def test_rotations_crossing_180_are_unwrapped_before_filling_and_filtering(walk):
    names, values = mocap(1200, RATE)
    raw = values[:, names.index("LeftArm_Yrotation")]
    assert np.abs(np.diff(raw)).max() > 300  # the file wraps at +-180
    for options in ({}, {"cutoff": 6}):
        smooth = cleaned(SequenceDataModule(path=str(walk), **options), "LeftArm_Yrotation")
        assert np.abs(np.diff(smooth)).max() < 5  # degrees per frame: no jump left
        # The same angle, only continuous: equal to the file's modulo 360.
        if not options:
            np.testing.assert_allclose((smooth - raw + 180) % 360 - 180, 0, atol=1e-3)
    wrapped = cleaned(SequenceDataModule(path=str(walk), unwrap=False), "LeftArm_Yrotation")
    assert np.abs(np.diff(wrapped)).max() > 300


def test_root_velocity_and_removal_act_on_the_root_joint(walk):
    kept = SequenceDataModule(path=str(walk))
    velocity = SequenceDataModule(path=str(walk), root="velocity")
    removed = SequenceDataModule(path=str(walk), root="remove")
    axes = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert kept.root_columns == [f"Hips_{axis}" for axis in axes]
    assert velocity.unfitted_preprocessing().channels[:2] == [
        "Hips_Xposition_velocity",
        "Hips_Yposition_velocity",
    ]
    assert not any(name.startswith("Hips_") for name in removed.unfitted_preprocessing().channels)
    position = cleaned(kept, "Hips_Xposition")
    speed = cleaned(velocity, "Hips_Xposition_velocity")
    np.testing.assert_allclose(speed[1:], np.diff(position), atol=1e-4)
    assert speed[0] == 0


def test_near_constant_channels_are_named_in_one_line_or_dropped(walk, capsys):
    warned = SequenceDataModule(path=str(walk))
    assert "Neck_Xrotation" in warned.fitted_preprocessing.channels
    lines = [line for line in capsys.readouterr().err.splitlines() if "barely change" in line]
    assert len(lines) == 1 and lines[0].endswith(
        "Neck_Xrotation; data.constant_channels=drop leaves them out"
    )
    dropped = SequenceDataModule(path=str(walk), constant_channels="drop")
    assert "Neck_Xrotation" not in dropped.fitted_preprocessing.channels
    assert dropped.input_shape == (32, 17)
    assert "barely change" not in capsys.readouterr().err


def test_predict_reads_a_recording_as_training_did_and_names_what_differs(walk, tmp_path, capsys):
    data = SequenceDataModule(path=str(walk), overlap=24, constant_channels="drop")
    preprocessing = data.fitted_preprocessing
    windows = preprocessing.read(walk)
    assert windows.raw.shape == (len(windows), 32, 17)
    assert windows.indices[:3] == [0, 8, 16] and windows.sources[0] == "walk.bvh"
    slower = write_mocap(tmp_path / "slow.bvh", frames=200, rate=60.0)
    preprocessing.read(slower)
    assert capsys.readouterr().err.splitlines() == [
        "warning: slow.bvh is recorded at 60 Hz (its Frame Time) but the model was trained "
        "on 120 Hz; resample it to match"
    ]
    with pytest.raises(DataError, match=r"short\.bvh has 20 frames; the model reads windows of 32"):
        preprocessing.read(write_mocap(tmp_path / "short.bvh", frames=20))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"root": "centre"}, "data.root must be keep, remove, velocity, got 'centre'"),
        ({"constant_channels": "hide"}, "data.constant_channels must be warn or drop"),
        ({"horizon": 0}, "data.horizon=0 must be a whole number of steps >= 1"),
        ({"sampling_rate": 0}, "data.sampling_rate=0 must be a positive rate in Hz"),
    ],
)
def test_bad_motion_options_are_named_in_one_line(walk, options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        SequenceDataModule(path=str(walk), **options)


def test_recordings_at_different_rates_are_refused(tmp_path):
    write_mocap(tmp_path / "fast.bvh", frames=200, rate=120.0)
    write_mocap(tmp_path / "slow.bvh", frames=200, rate=60.0)
    with pytest.raises(DataError, match=r"different frame rates \(60 to 120 Hz\)"):
        SequenceDataModule(path=str(tmp_path)).splits  # noqa: B018


def test_root_options_need_a_bvh_root(tmp_path):
    np.save(tmp_path / "take.npy", mocap(200)[1])
    with pytest.raises(ConfigError, match=r"data\.root=velocity needs BVH recordings"):
        SequenceDataModule(path=str(tmp_path / "take.npy"), root="velocity").splits  # noqa: B018


def read_rows(path: Path) -> dict[tuple[str, int], list[float]]:
    with path.open() as file:
        rows = list(csv.reader(file))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["source", "start_frame"]
    return {(row[0], int(row[1])): [float(v) for v in row[2:]] for row in body}


# The README's motion-capture command, as the user types it.
(README_MOCAP,) = [command for command in DATA_COMMANDS if "data.path=data/mocap" in command]


@pytest.mark.slow
def test_readme_mocap_command_beats_persistence_and_predict_answers_as_the_experiment(
    walk, tmp_path
):
    logs = tmp_path / "logs"
    overrides = [
        f"data.path={walk}" if override.startswith("data.path=") else override
        for override in shlex.split(README_MOCAP)[2:]
    ]
    trained = run_python(
        "train.py",
        *overrides,
        "trainer.max_epochs=4",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=null",
        f"paths.log_dir={logs}",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    run = (logs / "train" / "latest").resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/mae"] < metrics["test/baseline_mae"] / 2
    assert "(persistence baseline, the last step repeated): the model beats it" in trained.stdout
    with (run / "channel_metrics.csv").open() as file:
        per_channel = list(csv.DictReader(file))
    preprocessing = from_dict(json.loads((run / "preprocessing.json").read_text()))
    assert preprocessing.sampling_rate == pytest.approx(RATE, rel=1e-6)
    assert [row["output"] for row in per_channel] == preprocessing.channels
    assert np.mean([float(row["baseline_mae"]) for row in per_channel]) == pytest.approx(
        metrics["test/baseline_mae"], rel=1e-4
    )

    predicted = run_python("predict.py", "run=latest", f"input={walk}", f"paths.log_dir={logs}")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    predictions = read_rows(next((logs / "predict" / "runs").glob("*/predictions.csv")))
    experiment = read_rows(run / "test_predictions.csv")
    # Every test window is one predict.py cuts from the file, keyed by its start frame in
    # the file (the test stretch starts mid-file under data.split=time).
    assert min(start for _, start in experiment) > 1200 * 0.8
    assert set(experiment) <= set(predictions)
    for key, values in experiment.items():
        np.testing.assert_allclose(predictions[key], values, atol=1e-5, rtol=0)
    # In channel units: the error against the file's own (cleaned) frames is the reported one.
    frames = preprocessing.clean(
        preprocessing.columns_of(walk, read_recording(walk).columns), walk.name
    )
    ahead = preprocessing.length - 1 + preprocessing.horizon
    truth = np.stack([frames[start + ahead] for _, start in experiment])
    forecasts = np.array([predictions[key] for key in experiment])
    reported = [float(row["mae"]) for row in per_channel]
    np.testing.assert_allclose(np.abs(forecasts - truth).mean(axis=0), reported, rtol=1e-3)
