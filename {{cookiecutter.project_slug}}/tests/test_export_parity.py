"""A raw file through the exported ONNX and TorchScript models answers as ``predict.py`` on
the same file and as the experiment's own test predictions: the exported graph carries the
preprocessing, and the checkpoint alone exports it (the training file is moved away first).

One classification (scikit-learn's digits, raw pixel values 0..16) and one regression
(scikit-learn's diabetes table as a CSV with a header and empty cells, answered in the
target's own units), each trained once for the module, predict.py and export.py run as
commands, as a user runs them.
"""

import csv
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from sklearn.datasets import load_diabetes, load_digits

from {{ cookiecutter.package_name }}.data.csv_table import TablePreprocessing
from {{ cookiecutter.package_name }}.data.digits import DigitsPreprocessing
from {{ cookiecutter.package_name }}.data.preprocessing import from_dict
from {{ cookiecutter.package_name }}.pipelines import export as export_module
from {{ cookiecutter.package_name }}.pipelines.export import export, synthetic_raw
from {{ cookiecutter.package_name }}.pipelines.train import train

from .conftest import PROJECT, SHORT_RUN, compose_config, run_python
from .test_bad_values import check_one_line

# 1e-5 as the issue asks; values in a target's own units (hundreds here) add float32's
# resolution there, which is itself about 1e-5: 1e-6 of the value.
ATOL, RTOL = 1e-5, 1e-6
# Every test example goes into test_predictions.csv: the whole test split is tested.
TRAIN = [option for option in SHORT_RUN if not option.startswith("trainer.limit_test")]
# What export writes for a model this small (no model.onnx.data: the weights are inside).
EXPORT_FILES = {"model.onnx", "model.pt", "model.json", "preprocess.json", "config.yaml"}


def launch(folder: Path, *args: str) -> None:
    result = run_python(*args, f"paths.log_dir={folder / 'logs'}")
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def exported_with(folder: Path, *overrides: str) -> Path:
    return export(compose_config(folder / "logs", overrides, config_name="export"))


@dataclass
class Exported:
    folder: Path  # holds logs/ and the raw file, as a user's project folder would
    raw_file: Path  # the file the model predicts on, in the units the user has
    run_dir: Path

    @property
    def export_dir(self) -> Path:
        return self.run_dir / "export"

    def predictions(self) -> Path:
        return self.folder / "logs" / "predict" / "latest" / "predictions.csv"


def write_digits(folder: Path) -> tuple[Path, list[str]]:
    raw_file = folder / "digits.npy"
    np.save(raw_file, load_digits().images)  # (1797, 8, 8), pixel values 0..16
    return raw_file, []


def write_diabetes(folder: Path) -> tuple[Path, list[str]]:
    """The table with its header and a target in its own units (25..346); every 40th row
    misses its bmi, as real tables miss cells."""
    table = load_diabetes(scaled=False)
    raw_file = folder / "data" / "diabetes.csv"
    raw_file.parent.mkdir()
    with raw_file.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*table.feature_names, "target"])
        for row, (features, target) in enumerate(zip(table.data, table.target, strict=True)):
            cells = [repr(float(value)) for value in features]
            if row % 40 == 0:
                cells[table.feature_names.index("bmi")] = ""
            writer.writerow([*cells, repr(float(target))])
    return raw_file, ["data=csv", f"data.path={raw_file}", "data.target=target"]


DATA: dict[str, Callable[[Path], tuple[Path, list[str]]]] = {
    "digits": write_digits,
    "diabetes": write_diabetes,
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Exported]]:
    """Train, move the training file away, export both formats and predict on the raw file,
    once per data for the module. Export's and predict's command lines are the user's
    path under test (ONNX checked on the raw file too); training and the TorchScript
    export run in this process, one start-up of torch fewer each."""
    done: dict[str, Exported] = {}

    def make(data: str) -> Exported:
        if data not in done:
            folder = tmp_path_factory.mktemp(data)
            raw_file, options = DATA[data](folder)
            train(compose_config(folder / "logs", [*options, *TRAIN]))
            if raw_file.parent != folder:  # the training data is gone where the model ships
                raw_file = Path(shutil.move(raw_file, folder / raw_file.name))
            launch(folder, "export.py", "format=onnx", f"input={raw_file}")
            exported_with(folder, "format=torchscript")
            launch(folder, "predict.py", f"input={raw_file}")
            run_dir = (folder / "logs" / "train" / "latest").resolve()
            done[data] = Exported(folder, raw_file, run_dir)
        return done[data]

    yield make
    GlobalHydra.instance().clear()


def described(run: Exported) -> tuple[dict, dict]:
    model = json.loads((run.export_dir / "model.json").read_text())
    preprocess = json.loads((run.export_dir / "preprocess.json").read_text())
    return model, preprocess


def raw_inputs(run: Exported) -> np.ndarray:
    """The raw file as a user without this project prepares it from preprocess.json: the
    digits as stored; the table's feature columns by name in training order, NaN if empty."""
    if run.raw_file.suffix == ".npy":
        return np.load(run.raw_file).reshape(-1, 1, 8, 8).astype(np.float32)
    features = described(run)[1]["preprocessing"]["features"]
    with run.raw_file.open(newline="") as file:
        rows = list(csv.DictReader(file))
    return np.array(
        [[float(row[name]) if row[name] else np.nan for name in features] for row in rows],
        dtype=np.float32,
    )


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.slow
@pytest.mark.parametrize("data", DATA)
def test_a_raw_file_through_the_exported_models_equals_predict_and_the_experiment(exported, data):
    run = exported(data)
    raw = raw_inputs(run)
    model, _ = described(run)
    assert list(raw.shape[1:]) == model["input"]["shape"][1:]

    session = onnxruntime.InferenceSession(str(run.export_dir / "model.onnx"))
    from_onnx = session.run(None, {model["input"]["name"]: raw})[0]
    with torch.inference_mode():
        from_torchscript = torch.jit.load(run.export_dir / "model.pt")(torch.from_numpy(raw))
    predicted = np.load(run.predictions().with_suffix(".npy"))
    assert predicted.shape == (len(raw), model["output"]["shape"][1])
    assert_close(from_onnx, predicted, "onnxruntime vs predict.py")
    assert_close(from_torchscript.numpy(), predicted, "torch.jit vs predict.py")

    with (run.run_dir / "test_predictions.csv").open(newline="") as file:
        tested = list(csv.DictReader(file))
    names = model["output"].get("class_names") or model["output"]["output_names"]
    index = list(tested[0])[1]  # the key column after "source": row, start_frame, ...
    rows = [int(row[index]) for row in tested]
    expected = np.array([[float(row[name]) for name in names] for row in tested])
    assert len(rows) > 50
    assert_close(from_onnx[rows], expected, "exported model vs the experiment's test predictions")
    if data == "diabetes":
        assert {row["source"] for row in tested} == {run.raw_file.name}
        # The target's own units (25..346), not standardised ones.
        assert 100 < from_onnx.mean() < 200
        assert np.isnan(raw).any() and np.isfinite(from_onnx).all()


@pytest.mark.slow
@pytest.mark.parametrize("data", DATA)
def test_the_export_folder_holds_the_documented_files_and_describes_the_graph(exported, data):
    run = exported(data)
    model, preprocess = described(run)
    assert {path.name for path in run.export_dir.iterdir()} == EXPORT_FILES
    readme = (PROJECT / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in [*EXPORT_FILES, "model.onnx.data"])

    assert set(model["exports"]) == {"onnx", "torchscript"}, "both formats of one checkpoint"
    assert model["exports"]["onnx"]["files"] == ["model.onnx"]
    assert f"examples of {run.raw_file.name}" in model["exports"]["onnx"]["checked_on"]
    largest = np.abs(np.load(run.predictions().with_suffix(".npy"))).max()
    assert all(
        entry["max_abs_difference"] <= ATOL + RTOL * largest for entry in model["exports"].values()
    )
    classifies = data == "digits"
    checkpoint = torch.load(model["checkpoint"], weights_only=True)
    assert from_dict(preprocess["preprocessing"]) == from_dict(checkpoint["preprocessing"])
    steps = " ".join(preprocess["steps"])
    assert f"shape (N, {', '.join(str(size) for size in model['input']['shape'][1:])})" in steps
    if not classifies:  # a caller without this project learns which columns, in which order
        assert f"features={preprocess['preprocessing']['features']}" in steps
    assert model["kind"] == ("classification" if classifies else "regression")
    assert model["output"]["name"] == ("probabilities" if classifies else "values")
    assert ("NaN" in model["input"]["units"]) == (not classifies), "missing values accepted"


@pytest.mark.slow
def test_the_readme_example_runs_the_exported_models_on_a_raw_file(exported, monkeypatch):
    run = exported("diabetes")
    blocks = re.findall(r"^```python\n(.*?)^```", (PROJECT / "README.md").read_text(), re.M | re.S)
    example = next(block for block in blocks if "onnxruntime.InferenceSession" in block)
    shutil.copy(run.raw_file, run.folder / "data" / "diabetes.csv")
    monkeypatch.chdir(run.folder)  # the example's paths are relative to the project folder
    names: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), names)
    predicted = np.load(run.predictions().with_suffix(".npy"))
    assert_close(names["onnx_outputs"], predicted, "README's onnxruntime example")
    assert_close(names["torchscript_outputs"].numpy(), predicted, "README's torch.jit example")


@pytest.mark.slow
def test_a_mismatching_export_keeps_the_shipped_files_and_bad_values_stop_in_one_line(
    exported, monkeypatch
):
    run = exported("digits")
    before = {path.name: path.read_bytes() for path in run.export_dir.iterdir()}
    trace = export_module.EXPORTERS["torchscript"]

    def off_by_a_little(*args: object) -> Callable[[torch.Tensor], torch.Tensor]:
        runner = trace(*args)
        return lambda x: runner(x) + 1e-4

    monkeypatch.setitem(export_module.EXPORTERS, "torchscript", off_by_a_little)
    with pytest.raises(export_module.ExportMismatchError, match=r"differs .* by 0\.0001 > atol"):
        exported_with(run.folder, "format=torchscript")
    assert {path.name: path.read_bytes() for path in run.export_dir.iterdir()} == before
    assert not [path for path in run.run_dir.iterdir() if path.name.startswith(".export")]

    log_dir = run.folder / "logs"
    check_one_line(log_dir, ["export.py", "atol=-1"], "atol=-1 must be a number >= 0")
    check_one_line(log_dir, ["export.py", "input=no/such.npy"], "input=no/such.npy is not a file")


@pytest.mark.slow
def test_heavy_weights_go_beside_the_onnx_file_and_another_checkpoint_replaces_an_export(
    exported, monkeypatch, tmp_path
):
    run = exported("digits")
    monkeypatch.setattr(export_module, "EMBEDDED_WEIGHTS_LIMIT", 0)  # as if over 1 GiB
    exported_with(run.folder, "format=onnx", f"output_dir={tmp_path}")
    assert {path.name for path in tmp_path.iterdir()} == EXPORT_FILES - {"model.pt"} | {
        "model.onnx.data"
    }
    model = json.loads((tmp_path / "model.json").read_text())
    assert model["exports"]["onnx"]["files"] == ["model.onnx", "model.onnx.data"]
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    predicted = np.load(run.predictions().with_suffix(".npy"))
    assert_close(session.run(None, {"raw": raw_inputs(run)})[0], predicted, "external weights")

    monkeypatch.undo()  # light again: the weights go inside, the side file goes
    exported_with(run.folder, "format=onnx", f"output_dir={tmp_path}")
    assert "model.onnx.data" not in {path.name for path in tmp_path.iterdir()}

    last = run.run_dir / "checkpoints" / "last.ckpt"
    other = ["format=torchscript", f"ckpt_path={last}", f"output_dir={tmp_path}"]
    exported_with(run.folder, *other)
    assert {path.name for path in tmp_path.iterdir()} == EXPORT_FILES - {"model.onnx"}
    model = json.loads((tmp_path / "model.json").read_text())
    assert (model["checkpoint"], list(model["exports"])) == (str(last), ["torchscript"])


def test_the_synthetic_check_batch_is_raw_values_the_model_was_trained_on():
    digits = synthetic_raw(DigitsPreprocessing())
    assert digits.shape == (64, 1, 8, 8) and digits.min() >= 0 and digits.max() <= 16
    table = TablePreprocessing(
        kind="regression",
        features=["age", "bmi"],
        mean=[50.0, 26.0],
        std=[13.0, 4.0],
        target="progression",
        target_mean=152.0,
        target_std=77.0,
    )
    raw = synthetic_raw(table)
    assert 0.05 < raw.isnan().float().mean() < 0.2, "a tenth missing: the encoding fills gaps"
    with torch.no_grad():
        encoded = table.encode()(raw)
    assert encoded.abs().max() <= 1.0001 and encoded.std() > 0.4, "spread over [-1, 1]"
    assert 30 < raw[:, 0].nanmean() < 70, "ages, in years"
