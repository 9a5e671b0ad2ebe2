"""README's "Add a dataset": its Python file and YAML file, added to a copy of the project,
train; with the preprocessing statement the run predicts on raw rows, without it predict.py
stops in one line."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from .conftest import PROJECT, copy_project, run_python

SECTION = re.search(
    r"^## Add a dataset\n(.*?)^## ", (PROJECT / "README.md").read_text(), re.M | re.S
)
assert SECTION, "README.md has no 'Add a dataset' section"
# The files, each named in backticks on the line before its block.
FILES = re.findall(r"^`([^`]+)`:\n\n```(?:python|yaml)\n(.*?)^```", SECTION[1], re.M | re.S)
COMMANDS = [
    line
    for block in re.findall(r"^```bash\n(.*?)^```", SECTION[1], re.M | re.S)
    for line in block.splitlines()
]
# The statement the README says predict.py, serve.py and export.py need.
PREPROCESSING = re.compile(
    r"\n *# What predict\.py.*?\n *self\.preprocessing = .*?\n        \)", re.S
)
# A short training: the data is what is under test, not the model's accuracy.
BUDGET = [
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
]


def run(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """A README command in ``project`` as a user runs it, training ones shortened."""
    words = shlex.split(command)
    arguments = [*words[1:], *(BUDGET if words[1] == "train.py" else [])]
    return run_python(*arguments, project=project)


def add_dataset(project: Path, keep_preprocessing: bool) -> None:
    for relative, text in FILES:
        if not keep_preprocessing:
            text, found = PREPROCESSING.subn("", text)
            assert found or relative.endswith(".yaml"), text
        (project / relative).write_text(text)


def test_the_section_adds_a_module_and_its_config():
    assert [Path(relative).suffix for relative, _ in FILES] == [".py", ".yaml"]
    assert PREPROCESSING.search(FILES[0][1])
    assert COMMANDS[0] == "python train.py data=wine" and "predict.py" in COMMANDS[-1]


@pytest.mark.slow
def test_the_added_dataset_trains_and_predicts(tmp_path):
    project = copy_project(tmp_path / "project")
    add_dataset(project, keep_preprocessing=True)
    for command in COMMANDS:
        result = run(project, command)
        assert result.returncode == 0, (
            f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    table = (project / "logs" / "predict" / "latest" / "predictions.csv").read_text().splitlines()
    assert table[0].startswith("source,row,predicted,class_0,class_1,class_2")
    assert len(table) == 1 + 5


@pytest.mark.slow
def test_without_preprocessing_it_trains_and_predict_stops_in_one_line(tmp_path):
    project = copy_project(tmp_path / "project")
    add_dataset(project, keep_preprocessing=False)
    trained = run(project, COMMANDS[0])
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "test/acc" in (project / "logs" / "train" / "latest" / "metrics.json").read_text()
    run(project, COMMANDS[1])
    predicted = run(project, COMMANDS[2])
    assert predicted.returncode == 2
    errors = [line for line in predicted.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "self.preprocessing" in errors[0], predicted.stderr[-3000:]
    assert "Traceback" not in predicted.stderr
