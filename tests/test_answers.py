"""Any text answer bakes a project that parses, installs and says exactly what was typed;
a re-bake over an existing project removes only what the template itself wrote."""

import ast
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest
import tomllib

from .conftest import cookiecutter_cli

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
AWKWARD = {
    "quotes": {
        "project_name": 'My "Q" Project',
        "description": 'Says "hi", \'bye\', \'\'\' and """ <a & b> end"',
        "author_name": 'O\'Brien "Bob"',
    },
    "backslashes": {
        "project_name": "Back\\slash",
        "description": "C:\\new\\table \\u0041 \\",
        "author_name": "A. B\\",
    },
    "unicode": {
        "project_name": "Projéct 😀",
        "description": "Ünïcödé, 中文, emoji 😀, right-to-left שלום",
        "author_name": "Zoë Ñúñez 😀",
    },
}


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]


@pytest.mark.parametrize("kind", AWKWARD)
def test_awkward_answers_bake_a_project_that_builds_and_keeps_them_exactly(tmp_path, kind):
    answers = AWKWARD[kind]
    result = cookiecutter_cli(tmp_path / "out", *(f"{k}={v}" for k, v in answers.items()))
    assert result.returncode == 0, result.stderr
    (project,) = (tmp_path / "out").iterdir()
    assert project.name.isidentifier() and project.name.isascii(), project.name

    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert metadata["description"] == answers["description"]
    assert metadata["authors"][0]["name"] == answers["author_name"]
    init = project / "src" / project.name / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text()), clean=False) == answers["description"]
    readme = (project / "README.md").read_text().splitlines()
    assert readme[:3] == [f"# {answers['project_name']}", "", answers["description"]]
    assert answers["author_name"] in (project / "LICENSE").read_text()
    for command in (["check", "."], ["format", "--check", "."]):
        lint = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr

    # A wheel, built without installing anything anywhere, carries the answers as typed.
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [*PIP_WHEEL, "-w", str(wheels), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        built = Parser().parsestr(archive.read(name).decode())
    assert built["Summary"] == answers["description"]
    assert answers["author_name"].replace("\\", "\\\\").replace('"', '\\"') in built["Author-email"]


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("project_name", "Two\nlines"),
        ("description", "line one\nline two"),
        ("author_name", "Tab\there"),
        ("description", "carriage\rreturn"),
    ],
    ids=["project_name-newline", "description-newline", "author_name-tab", "description-cr"],
)
def test_a_line_break_in_a_one_line_answer_is_refused_in_one_line(tmp_path, question, value):
    result = cookiecutter_cli(tmp_path, f"{question}={value}")
    assert result.returncode != 0
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {question} must be one line"), (
        result.stderr
    )
    assert list(tmp_path.iterdir()) == []


USER_FILES = {
    "Dockerfile": "FROM my-own-image\n",
    ".dockerignore": "my-secrets/\n",
    "LICENSE": "All rights reserved by me.\n",
    ".github/workflows/ci.yml": "name: my own ci\n",
    ".github/workflows/deploy.yml": "name: deploy\n",
    "configs/launcher/slurm.yaml": "# my own cluster\n",
    "configs/launcher/local.yaml": "# my other launcher\n",
    "tests/test_slurm.py": "def test_mine():\n    pass\n",
}


def test_rebaking_with_options_off_keeps_the_users_own_files(tmp_path):
    project = tmp_path / "my_project"
    for relative, text in USER_FILES.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    result = cookiecutter_cli(
        tmp_path, "--overwrite-if-exists", "github_ci=no", "license=none", "dockerfile=no"
    )
    assert result.returncode == 0, result.stderr
    for relative, text in USER_FILES.items():
        assert (project / relative).read_text() == text, relative
    assert (project / "train.py").is_file()
    assert not (project / ".cookiecutter-kept").exists()


def test_rebaking_with_an_option_on_writes_the_template_file_over_the_users(tmp_path):
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM my-own-image\n")
    result = cookiecutter_cli(tmp_path, "--overwrite-if-exists", "dockerfile=yes")
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim" in (project / "Dockerfile").read_text()
    assert not (project / ".cookiecutter-kept").exists()


@pytest.mark.parametrize(
    ("answer", "choices"),
    [
        ("python_version=2.7", "['3.11', '3.10', '3.12', '3.13']"),
        ("license=GPL", "['MIT', 'Apache-2.0', 'BSD-3-Clause', 'none']"),
    ],
)
def test_a_value_outside_the_choices_is_refused_by_cookiecutter_before_any_hook(
    tmp_path, answer, choices
):
    """Cookiecutter checks choices before the template's hooks run, in its own words: the
    last line of its traceback names the choices (as the template's README says)."""
    result = cookiecutter_cli(tmp_path, answer)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: ") and last.endswith(f"the choices are {choices}."), last
    assert list(tmp_path.iterdir()) == []
