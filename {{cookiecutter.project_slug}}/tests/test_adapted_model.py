"""README's "Adapt a published model": its model file and YAML file, added to a copy of the
project, train on the sine series with ``train.py``, and the model-by-data tests take the
new model up by themselves: it trains on every data it can read and a table is refused."""

import re
import shlex
from pathlib import Path

import pytest

from .conftest import PROJECT, copy_project, run_python

SECTION = re.search(
    r"^### Adapt a published model\n(.*?)^##", (PROJECT / "README.md").read_text(), re.M | re.S
)
assert SECTION, "README.md has no 'Adapt a published model' section"
# The files, each named in backticks on the line before its block.
FILES = re.findall(r"^`([^`]+)`:\n\n```(?:python|yaml)\n(.*?)^```", SECTION[1], re.M | re.S)
COMMANDS = re.findall(r"`(python train\.py [^`]+)`", SECTION[1])
# A short training: whether the model fits the project is under test, not its accuracy.
BUDGET = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
]
DATA = ["digits", "sine", "sequence", "mnist", "cifar10", "image_folder", "csv"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the README's model added, as a user adds it."""
    copy = copy_project(tmp_path_factory.mktemp("adapted") / "project")
    for relative, text in FILES:
        (copy / relative).write_text(text)
    return copy


def test_the_section_adds_a_model_that_uses_the_sequence_helpers():
    assert [Path(relative).name for relative, _ in FILES] == ["tcn.py", "tcn.yaml"]
    model = FILES[0][1]
    assert "sequence_shape(input_shape)" in model and "as_sequence(x)" in model
    assert COMMANDS[0] == "python train.py model=tcn data=sine", COMMANDS


@pytest.mark.slow
def test_the_adapted_model_trains_on_the_sine_series(project, tmp_path):
    words = shlex.split(COMMANDS[0])
    trained = run_python(*words[1:], *BUDGET, f"paths.log_dir={tmp_path}", project=project)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    run = (tmp_path / "train" / "latest").resolve()
    assert "test/mae" in (run / "metrics.json").read_text()
    # One row per forecast channel, scored in the series' units.
    assert len((run / "channel_metrics.csv").read_text().splitlines()) == 1 + 3


@pytest.mark.slow
def test_the_model_tests_train_the_adapted_model_on_every_data_it_reads(project):
    # -rA: a "PASSED <test>" line for each, whether the tests run in one process or several.
    arguments = ["tests/test_matrix.py", "-k", "tcn", "-rA", "-p", "no:cacheprovider"]
    tested = run_python("-m", "pytest", *arguments, project=project)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    for data in DATA:
        test = f"test_model_trains_on_every_data_it_reads[tcn-{data}]"
        assert f"PASSED tests/test_matrix.py::{test}" in tested.stdout
