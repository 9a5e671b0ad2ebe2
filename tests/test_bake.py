"""Every answer bakes a clean project: no leftover Jinja, ruff-clean, the right files."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ANSWERS, cookiecutter_cli, run_in

# The default plus, for every question with choices, each non-default value.
VARIANTS: list[dict[str, Any]] = [{}]
for question, default in ANSWERS.items():
    if question.startswith("_"):
        continue
    if isinstance(default, list):
        VARIANTS += [{question: value} for value in default[1:]]
    elif isinstance(default, bool):
        VARIANTS.append({question: not default})
IDS = ["default" if not v else ",".join(f"{k}={x}" for k, x in v.items()) for v in VARIANTS]

JINJA = re.compile(r"{{|{%")
# GitHub's own expression syntax, which the template copies without rendering.
GITHUB_EXPRESSION = re.compile(r"\${{.*?}}")


def leftover_jinja(project: Path) -> list[str]:
    found = []
    for path in project.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.parent.name == "workflows":
            text = GITHUB_EXPRESSION.sub("", text)
        found += [f"{path.relative_to(project)}: {match}" for match in JINJA.findall(text)]
    return found


@pytest.mark.parametrize("answers", VARIANTS, ids=IDS)
def test_bake_is_clean(bake, answers):
    project = bake(**answers)
    assert leftover_jinja(project) == []
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "LICENSE").exists() == (answers.get("license", "MIT") != "none")
    assert (project / ".github" / "workflows" / "ci.yml").exists() == answers.get("github_ci", True)
    # The README's logger row names each logger once, this project's default first.
    readme = (project / "README.md").read_text().splitlines()
    row = next(line for line in readme if line.startswith("| `logger` |")).split("|")[2]
    loggers = re.findall(r"`(\w+)`", row.split(";")[0])
    assert sorted(loggers) == sorted(ANSWERS["logger"]), row
    assert loggers[0] == answers.get("logger", ANSWERS["logger"][0]), row
    composed = run_in(project, "train.py", "--cfg", "job")
    assert composed.returncode == 0, composed.stderr
    assert "_target_: lightning.pytorch.Trainer" in composed.stdout


def test_yes_no_answers_from_the_command_line_add_and_remove_files(tmp_path):
    result = cookiecutter_cli(
        tmp_path, "github_ci=no", "license=none", "dockerfile=yes", "slurm=yes"
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "my_project"
    assert not (project / ".github").exists()
    assert not (project / "LICENSE").exists()
    assert (project / "Dockerfile").is_file()
    assert (project / "configs" / "launcher" / "slurm.yaml").is_file()


def test_the_bake_message_and_the_readme_give_the_same_training_time(tmp_path):
    result = cookiecutter_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    said = re.search(r"python train\.py +# (.*)", result.stdout)
    readme = (tmp_path / "my_project" / "README.md").read_text()
    promised = re.search(r"^python train\.py +# (.*)", readme, re.MULTILINE)
    assert said and promised, result.stdout
    assert said[1] == promised[1]


BAD_ANSWERS = [
    ("project_slug=my-project", "project_slug 'my-project' is not a valid Python identifier"),
    ("project_slug=class", "project_slug 'class' is a Python keyword"),
    ("project_slug=test", "project_slug 'test' would shadow the standard-library module"),
    ("project_slug=torch", "project_slug 'torch' would shadow a dependency"),
    ("package_name=lightning", "package_name 'lightning' would shadow a dependency"),
    ("package_name=MyPackage", "package_name 'MyPackage' must be lowercase"),
    ("author_email=not-an-email", "author_email 'not-an-email' is not an email address"),
]


@pytest.mark.parametrize(("answer", "message"), BAD_ANSWERS, ids=[a for a, _ in BAD_ANSWERS])
def test_bad_answer_is_rejected_with_one_clear_line_and_nothing_written(tmp_path, answer, message):
    result = cookiecutter_cli(tmp_path, answer)
    assert result.returncode != 0
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("ERROR: ") and message in line
    ]
    assert len(lines) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
