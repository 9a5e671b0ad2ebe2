"""Predictions on a user's own table, in its units: scikit-learn's diabetes table (a
regression) and wine table (classes by name), trained and predicted as a user does, one
process per command, with the training file itself as predict.py's input."""

import csv
import json
import re
import shlex
import subprocess
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data.csv_table import CSVDataModule
from {{ cookiecutter.package_name }}.data.preprocessing import from_dict
from {{ cookiecutter.package_name }}.data.table_preprocessing import TablePreprocessing
from {{ cookiecutter.package_name }}.pipelines.build import build_data
from {{ cookiecutter.package_name }}.pipelines.evaluate import evaluate
from {{ cookiecutter.package_name }}.pipelines.inference import Predictor
from {{ cookiecutter.package_name }}.pipelines.predict import input_files
from {{ cookiecutter.package_name }}.tasks import load_task
from {{ cookiecutter.package_name }}.utils.errors import DataError

from .conftest import PROJECT, run_python
from .datafiles import write_sklearn_table, write_table

# A few epochs: the predictions need to be in the target's scale, not good.
BUDGET = [
    "trainer.max_epochs=3",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
]
# What predict.py and test_predictions.csv may differ by: the model runs on other batches
# (float32 steps are about 1.5e-5 on values in the hundreds).
ATOL, RTOL = 1e-5, 1e-6


def predict_section() -> str:
    readme = (PROJECT / "README.md").read_text()
    return readme.split("### Predict\n", 1)[1].split("\n### ", 1)[0]


# The README's table example (train on data/diabetes.csv, predict on that same file); this
# module runs it, on the table written there, so tests/test_readme.py need not.
COMMANDS = [
    re.sub(r"\s+#.*$", "", line).strip()
    for line in re.findall(r"^python \w+\.py .*data/diabetes\.csv.*$", predict_section(), re.M)
]


def run(line: str, data_dir: Path, log_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """A README command with ``data/`` at ``data_dir``, as its own process."""
    args = [word.replace("data/", f"{data_dir}/") for word in shlex.split(line)[1:]]
    result = run_python(*args, *extra, f"paths.log_dir={log_dir}")
    assert result.returncode == 0, f"{line}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def read_table(path: Path) -> dict[tuple[str, int], dict[str, str]]:
    """A predictions.csv by key (source, row)."""
    with path.open(newline="") as file:
        return {(row["source"], int(row["row"])): row for row in csv.DictReader(file)}


def assert_same_outputs(
    predicted: dict[tuple[str, int], dict[str, str]],
    tested: dict[tuple[str, int], dict[str, str]],
    columns: list[str],
) -> None:
    for key, row in tested.items():
        for column in columns:
            assert float(predicted[key][column]) == pytest.approx(
                float(row[column]), abs=ATOL, rel=RTOL
            ), (key, column)


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """The README's commands: train, then predict on the training file, which is moved
    elsewhere first (the checkpoint is all predict.py needs) and put back afterwards."""
    root = tmp_path_factory.mktemp("diabetes")
    data = write_sklearn_table(root / "data" / "diabetes.csv", "diabetes").parent
    train_line, predict_line = COMMANDS
    run(train_line, data, root / "logs", *BUDGET)
    elsewhere = data.rename(root / "elsewhere")
    try:
        predicted = run(predict_line, elsewhere, root / "logs")
    finally:
        elsewhere.rename(data)
    return {
        "table": data / "diabetes.csv",
        "run": (root / "logs" / "train" / "latest").resolve(),
        "predictions": root / "logs" / "predict" / "latest" / "predictions.csv",
        "stderr": predicted.stderr,
    }


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wine")
    table = write_sklearn_table(root / "wine.csv", "wine")
    log_dir = root / "logs"
    run(f"python train.py data=csv data.path={table}", root, log_dir, *BUDGET)
    run(f"python predict.py run=latest input={table}", root, log_dir)
    return {
        "table": table,
        "log_dir": log_dir,
        "run": (log_dir / "train" / "latest").resolve(),
        "predictions": log_dir / "predict" / "latest" / "predictions.csv",
    }


def test_the_readme_shows_training_and_predicting_on_a_table():
    assert [line.split()[1] for line in COMMANDS] == ["train.py", "predict.py"], COMMANDS


@pytest.mark.slow
def test_regression_predictions_are_in_the_targets_units_and_match_the_test_metric(diabetes):
    with Path(diabetes["table"]).open(newline="") as file:
        truth = [float(row["progression"]) for row in csv.DictReader(file)]
    predicted = read_table(diabetes["predictions"])
    assert len(predicted) == len(truth) == 442
    assert list(next(iter(predicted.values()))) == ["source", "row", "progression"]
    values = np.array([float(row["progression"]) for row in predicted.values()])
    # The target runs from 25 to 346 (mean 152); standardised outputs would sit near 0.
    assert 100 < values.mean() < 210, values.mean()

    tested = read_table(diabetes["run"] / "test_predictions.csv")
    assert len(tested) == 66
    assert_same_outputs(predicted, tested, ["progression"])
    errors = [abs(float(predicted[key]["progression"]) - truth[key[1]]) for key in tested]
    metrics = json.loads((diabetes["run"] / "metrics.json").read_text())
    assert np.mean(errors) == pytest.approx(metrics["test/mae"], rel=1e-4)
    assert metrics["test/mae"] > 10  # in the target's units, not standardised ones

    notes = [line for line in diabetes["stderr"].splitlines() if line.startswith("note:")]
    assert notes == ["note: diabetes.csv: ignored column(s) 'progression'"]
    saved = json.loads((diabetes["run"] / "preprocessing.json").read_text())
    checkpoint = torch.load(diabetes["run"] / "checkpoints" / "best.ckpt", weights_only=True)
    assert saved == checkpoint["preprocessing"]
    assert from_dict(saved).output_names == ["progression"]


@pytest.mark.slow
def test_eval_writes_the_same_test_predictions_and_plots_them_in_units(diabetes, make_cfg):
    checkpoint = diabetes["run"] / "checkpoints" / "best.ckpt"
    cfg = make_cfg([f"ckpt_path={checkpoint}"], config_name="eval")
    out_dir = Path(cfg.paths.output_dir)
    metrics = evaluate(cfg)
    trained = json.loads((diabetes["run"] / "metrics.json").read_text())
    assert metrics["test/mae"] == pytest.approx(trained["test/mae"], rel=1e-6)
    tested = read_table(diabetes["run"] / "test_predictions.csv")
    evaluated = read_table(out_dir / "test_predictions.csv")
    assert evaluated.keys() == tested.keys()
    assert_same_outputs(evaluated, tested, ["progression"])
    assert (out_dir / "plots" / "predictions.png").stat().st_size > 10_000

    task = load_task(checkpoint)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    trainer.test(task, datamodule=build_data(task.hparams.data), verbose=False)
    (axes,) = task.test_figures()["predictions"].axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("true progression", "predicted progression")
    # One point per test row, at its true value in the target's units (25 to 346).
    true_values = axes.collections[0].get_offsets()[:, 0]
    assert len(true_values) == len(tested)
    assert true_values.min() >= 25 and true_values.max() <= 346 and true_values.std() > 30


@pytest.mark.slow
def test_classification_predicts_classes_by_name_with_probabilities(wine):
    predicted = read_table(wine["predictions"])
    names = ["class_0", "class_1", "class_2"]
    first = next(iter(predicted.values()))
    assert list(first) == ["source", "row", "predicted", *names]
    assert {row["predicted"] for row in predicted.values()} <= set(names)
    for row in predicted.values():
        assert sum(float(row[name]) for name in names) == pytest.approx(1, abs=1e-5)
    tested = read_table(wine["run"] / "test_predictions.csv")
    assert_same_outputs(predicted, tested, names)
    assert all(predicted[key]["predicted"] == row["predicted"] for key, row in tested.items())
    with wine["table"].open(newline="") as file:
        truth = [row["cultivar"] for row in csv.DictReader(file)]
    right = [predicted[key]["predicted"] == truth[key[1]] for key in tested]
    metrics = json.loads((wine["run"] / "metrics.json").read_text())
    assert np.mean(right) == pytest.approx(metrics["test/acc"], abs=1e-6)


@pytest.mark.slow
def test_a_missing_feature_column_stops_in_one_line(wine, tmp_path):
    with wine["table"].open(newline="") as file:
        rows = [row[:-2] + row[-1:] for row in csv.reader(file)]  # without proline
    partial = tmp_path / "partial.csv"
    with partial.open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    latest = (wine["log_dir"] / "predict" / "latest").resolve()
    result = run_python("predict.py", f"input={partial}", f"paths.log_dir={wine['log_dir']}")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {partial} lacks the column(s) 'proline' that this model reads; its header "
        f"(first row) names {', '.join(repr(name) for name in rows[0])}"
    ]
    assert (wine["log_dir"] / "predict" / "latest").resolve() == latest


@pytest.mark.slow
def test_arrays_and_folders_predict_as_the_table_does(diabetes, tmp_path):
    predictor = Predictor.load(diabetes["run"] / "checkpoints" / "best.ckpt")
    table = predictor.preprocessing.read(Path(diabetes["table"]))
    np.save(tmp_path / "rows.npy", table.raw[:10].numpy())
    assert input_files(str(tmp_path), predictor.preprocessing.suffixes) == [tmp_path / "rows.npy"]
    rows = predictor.preprocessing.read(tmp_path / "rows.npy")
    assert (rows.sources, rows.indices) == (["rows.npy"] * 10, list(range(10)))
    torch.testing.assert_close(predictor(rows.raw), predictor(table.raw)[:10])
    predicted = read_table(diabetes["predictions"])
    expected = [float(predicted[("diabetes.csv", row)]["progression"]) for row in range(10)]
    np.testing.assert_allclose(predictor(rows.raw)[:, 0], expected, atol=ATOL, rtol=RTOL)


def fitted(tmp_path: Path, target: str = "real") -> tuple[CSVDataModule, TablePreprocessing]:
    data = CSVDataModule(path=str(write_table(tmp_path / "table.csv", target=target)))
    preprocessing = data.fitted_preprocessing
    assert isinstance(preprocessing, TablePreprocessing)
    return data, preprocessing


def test_table_preprocessing_is_fitted_on_the_training_rows_only(tmp_path):
    data, preprocessing = fitted(tmp_path)
    assert preprocessing.features == ["width", "height", "depth"]
    columns, train_rows = data.columns, data.rows["train"]
    assert data.test_keys() == (["table.csv"] * 9, data.rows["test"])
    assert len(train_rows) == 42 and not set(train_rows) & set(data.rows["test"])
    assert not np.isclose(np.mean(columns["width"][train_rows]), np.mean(columns["width"]))
    assert preprocessing.mean[0] == pytest.approx(float(np.mean(columns["width"][train_rows])))
    assert preprocessing.target_mean == pytest.approx(
        float(np.mean(columns["target"][train_rows])), rel=1e-5
    )
    # Missing cells become the mean, then 0 once standardised; decode inverts the target's.
    encoded = preprocessing.encode()(torch.full((1, 3), float("nan")))
    torch.testing.assert_close(encoded, torch.zeros(1, 3))
    decoded = preprocessing.decode()(torch.tensor([[0.0], [1.0]]))
    expected = [preprocessing.target_mean, preprocessing.target_mean + preprocessing.target_std]
    torch.testing.assert_close(decoded[:, 0], torch.tensor(expected))
    assert from_dict(json.loads(json.dumps(preprocessing.to_dict()))) == preprocessing


def test_table_read_picks_columns_by_name_and_names_text_cells(tmp_path, capsys):
    _, preprocessing = fitted(tmp_path)
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("id,depth,width,height\n7,,1.5,2\n8,3,4,5\n")
    examples = preprocessing.read(shuffled)
    expected = torch.tensor([[1.5, 2.0, float("nan")], [4.0, 5.0, 3.0]])
    torch.testing.assert_close(examples.raw, expected, equal_nan=True)
    assert (examples.sources, examples.indices) == (["shuffled.csv"] * 2, [0, 1])
    assert capsys.readouterr().err == "note: shuffled.csv: ignored column(s) 'id'\n"
    text = tmp_path / "text.csv"
    text.write_text("width,height,depth\n1,2,3\n1,tall,3\n")
    with pytest.raises(DataError, match=r"column 'height' holds text \('tall' in data row 1\)"):
        preprocessing.read(text)


def test_table_from_json_takes_rows_as_objects_or_lists(tmp_path):
    _, preprocessing = fitted(tmp_path, target="class")
    examples = preprocessing.from_json(
        [{"height": 2, "width": 1.5, "depth": None, "target": "small"}, [1.5, 2, "3"]]
    )
    expected = torch.tensor([[1.5, 2.0, float("nan")], [1.5, 2.0, 3.0]])
    torch.testing.assert_close(examples.raw, expected, equal_nan=True)
    assert preprocessing.output_names == ["large", "small"]
    for bad, message in [
        ([{"width": 1, "height": 2}], r"inputs\[0\] has no 'depth'"),
        ([[1, 2]], r"inputs\[0\] must be an object of column: value, or a list of the 3"),
        ([[1, 2, "x"]], r"inputs\[0\]: 'depth' is not a number"),
        (["1,2,3"], r"inputs\[0\] must be an object"),
    ]:
        with pytest.raises(DataError, match=message):
            preprocessing.from_json(bad)
