"""The sequence pipeline: files in three formats, gaps, filter, windows, leak-free splits."""

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data.bvh import read_bvh
from {{ cookiecutter.package_name }}.data.sequence import SequenceDataModule
from {{ cookiecutter.package_name }}.data.signal import interpolate_gaps, lowpass
from {{ cookiecutter.package_name }}.data.sine import SineDataModule
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task, build_trainer
from {{ cookiecutter.package_name }}.utils.errors import ConfigError, DataError

from .briefly import BRIEFLY, fit_briefly
from .datafiles import sines, write_bvh, write_csv_series, write_series_folder


def test_gaps_are_interpolated_linearly_per_channel():
    values = np.array([[np.nan, 0.0], [1.0, np.nan], [np.nan, np.nan], [3.0, 6.0], [np.nan, 8.0]])
    filled = interpolate_gaps(values)
    np.testing.assert_allclose(filled, [[1, 0], [1, 2], [2, 4], [3, 6], [3, 8]])


def test_a_channel_without_values_is_refused():
    with pytest.raises(DataError, match=r"channel 1 of take\.csv has no values"):
        interpolate_gaps(np.array([[1.0, np.nan], [2.0, np.nan]]), "take.csv")


def test_lowpass_removes_fast_components_without_delay():
    time = np.arange(1000) / 100.0  # 10 s at 100 Hz
    slow = np.sin(2 * np.pi * 1.0 * time)
    noisy = slow + 0.5 * np.sin(2 * np.pi * 30.0 * time)
    filtered = lowpass(noisy[:, None], cutoff=5.0, order=4, sampling_rate=100.0)[:, 0]
    # Zero-phase: the slow wave comes back in place, not shifted.
    assert np.abs(filtered - slow)[100:-100].max() < 0.02
    with pytest.raises(ConfigError, match="half the sampling rate"):
        lowpass(noisy[:, None], cutoff=60.0, order=4, sampling_rate=100.0)


@pytest.mark.parametrize(("length", "overlap"), [(10, 0), (10, 5), (16, 15), (7, 3)])
def test_window_count_follows_length_and_overlap(tmp_path, length, overlap):
    steps = [120, 97, 64, 150, 33]
    for index, count in enumerate(steps):
        np.save(tmp_path / f"take{index}.npy", sines(count, 2, seed=index))
    data = SequenceDataModule(path=str(tmp_path), length=length, overlap=overlap, split="file")
    stride = length - overlap
    for dataset, part in zip(data.splits, data.split_series(data.series), strict=True):
        # Forecasting needs the step after each window: a window spans length + 1 steps.
        expected = sum((len(s.values) - (length + 1)) // stride + 1 for s in part)
        assert len(dataset) == expected
        window, target = dataset[len(dataset) - 1]
        assert window.shape == (length, 2)
        assert target.shape == (2,)


def test_overlap_must_be_shorter_than_the_window(tmp_path):
    with pytest.raises(ConfigError, match=r"0 <= overlap < length, got length=8, overlap=8"):
        SequenceDataModule(path=str(tmp_path), length=8, overlap=8)


@pytest.mark.parametrize("fmt", ["csv", "npy", "bvh"])
def test_sequence_files_with_gaps_train(make_cfg, tmp_path, fmt):
    folder = write_series_folder(tmp_path / fmt, fmt)
    cfg = make_cfg(["data=sequence", f"data.path={folder}", "model=lstm", *BRIEFLY])
    data = build_data(cfg.data)
    channels = 9 if fmt == "bvh" else 3
    assert data.input_shape == (32, channels)
    assert data.kind == "regression"
    assert data.num_outputs == channels
    assert any(np.isnan(s.values).any() for s in data.series)
    for dataset in data.splits:
        windows = torch.stack([dataset[i][0] for i in range(len(dataset))])
        assert torch.isfinite(windows).all()
    metrics = fit_briefly(cfg)
    assert np.isfinite(metrics["val/mae"])


def test_bvh_channels_are_named_after_their_joints(tmp_path):
    motion = read_bvh(write_bvh(tmp_path / "walk.bvh", sines(20, 9, seed=0, gaps=False)))
    assert motion.channels[:2] == ["Hips_Xposition", "Hips_Yposition"]
    assert motion.channels[-1] == "Spine_Yrotation"
    assert motion.frames.shape == (20, 9)
    assert motion.frame_time == pytest.approx(1 / 30, abs=1e-6)
    assert motion.root == "Hips"


def test_normalisation_statistics_come_from_the_training_split_only(tmp_path):
    # A rising trend: the training stretch (the first 70 %) has a lower mean than the rest.
    trend = np.arange(200)[:, None] / 10.0 + sines(200, 2, seed=0)
    np.save(tmp_path / "one.npy", trend)
    data = SequenceDataModule(path=str(tmp_path / "one.npy"), length=8, overlap=4)
    data.setup("fit")
    mean, std = np.array(data.preprocessing.mean), np.array(data.preprocessing.std)
    train_part = data.split_series(data.series)[0]
    train_values = np.concatenate([interpolate_gaps(s.values) for s in train_part])
    np.testing.assert_allclose(mean, train_values.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std, train_values.std(axis=0), rtol=1e-5)
    every_value = interpolate_gaps(trend)
    assert (every_value.mean(axis=0) - mean > 2.0).all()
    first_window = data.splits[0][0][0]
    np.testing.assert_allclose(first_window, (train_values[:8] - mean) / std, rtol=1e-5, atol=1e-6)


def test_split_by_file_keeps_each_recording_in_one_split(tmp_path):
    write_series_folder(tmp_path, "csv", files=7)
    data = SequenceDataModule(path=str(tmp_path))
    names = [{s.name for s in part} for part in data.split_series(data.series)]
    assert all(names)
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert set.union(*names) == {s.name for s in data.series}


def test_split_by_time_cuts_each_recording_into_consecutive_stretches(tmp_path):
    values = sines(200, 2, seed=0, gaps=False)
    np.save(tmp_path / "one.npy", values)
    data = SequenceDataModule(path=str(tmp_path / "one.npy"), length=8, overlap=0)
    parts = [part[0] for part in data.split_series(data.series)]
    # 70/15/15 %, cut on the window grid (every 8 steps): 140 -> 144, 170 -> 168.
    assert [len(p.values) for p in parts] == [144, 24, 32]
    assert [p.offset for p in parts] == [0, 144, 168]
    np.testing.assert_array_equal(
        np.concatenate([p.values for p in parts]), values.astype(np.float32)
    )


def test_label_column_classifies_windows_by_their_most_frequent_label(tmp_path):
    for index in range(4):
        labels = ["walk"] * 55 + ["run"] * 25 + ["walk"] * 40
        write_csv_series(tmp_path / f"take{index}.csv", sines(120, 3, seed=index), labels)
    data = SequenceDataModule(path=str(tmp_path), label_column="activity", length=20, overlap=0)
    assert data.kind == "classification"
    assert data.class_names == ["run", "walk"]
    assert data.input_shape == (20, 3)
    train_set = data.splits[0]
    # Windows of 20 steps: 40-59 is mostly walk (15 of 20 steps), 60-79 all run.
    assert [int(train_set[i][1]) for i in range(6)] == [1, 1, 1, 0, 1, 1]


def test_classified_windows_are_drawn_over_time_with_their_channel_names(make_cfg, tmp_path):
    for index in range(3):
        labels = ["walk"] * 60 + ["run"] * 60
        write_csv_series(tmp_path / f"take{index}.csv", sines(120, 3, seed=index), labels)
    cfg = make_cfg(
        ["data=sequence", f"data.path={tmp_path}", "data.label_column=activity", *BRIEFLY]
    )
    cfg.data.sampling_rate = 50
    datamodule = build_data(cfg.data)
    task = build_task(cfg, datamodule)
    build_trainer(cfg).test(task, datamodule=datamodule, verbose=False)
    figure = task.test_figures()["test_samples"]
    first = figure.axes[0]
    assert first.get_xlabel() == "time (s)"
    assert first.lines[0].get_xdata()[1] == pytest.approx(1 / 50)
    assert [text.get_text() for text in first.get_legend().get_texts()] == ["ch0", "ch1", "ch2"]


def test_missing_or_absent_path_is_a_clear_error(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"data=sequence needs data.path="):
        build_data(make_cfg(["data=sequence"]).data)
    with pytest.raises(DataError, match="does not exist"):
        build_data(make_cfg(["data=sequence", f"data.path={tmp_path / 'nope'}"]).data)
    with pytest.raises(DataError, match=r"holds no \.csv, \.npy, \.bvh files"):
        SequenceDataModule(path=str(tmp_path)).series  # noqa: B018


def test_sine_gaps_go_through_the_same_pipeline():
    data = SineDataModule(num_series=5, num_steps=100, gaps=3)
    assert all(np.isnan(s.values).any() for s in data.series)
    for dataset in data.splits:
        assert torch.isfinite(torch.stack([dataset[i][0] for i in range(len(dataset))])).all()
    assert data.input_shape == (32, 3)
    assert data.kind == "regression"
