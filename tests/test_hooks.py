"""The hooks run unattended on every supported Python, and running them twice is harmless."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from .conftest import TEMPLATE, bake_into

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def interpreters() -> dict[str, str]:
    """Every supported Python found on PATH or in pyenv, always including this one."""
    found = {f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in SUPPORTED:
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(str(p) for p in pyenv.glob(f"{version}.*/bin/python{version}"))
        for candidate in filter(None, candidates):
            check = subprocess.run([candidate, "--version"], capture_output=True, text=True)
            if check.returncode == 0:
                found.setdefault(version, candidate)
                break
    return found


def render_hook(name: str, **answers: object) -> str:
    context = generate_context(str(TEMPLATE / "cookiecutter.json"), extra_context=answers)
    cookiecutter_answers = prompt_for_config(context, no_input=True)
    env = StrictEnvironment(context=context, keep_trailing_newline=True)
    source = (TEMPLATE / "hooks" / name).read_text()
    return env.from_string(source).render(cookiecutter=cookiecutter_answers)


@pytest.mark.parametrize("version", sorted(interpreters()))
def test_hooks_run_on_python(version, tmp_path):
    python = interpreters()[version]
    answers = {"license": "none", "github_ci": False, "dockerfile": False, "slurm": False}
    # What cookiecutter has rendered when post_gen runs: every optional file, turned off or not.
    project = bake_into(tmp_path / "bake", **{**answers, "github_ci": True, "license": "MIT"})
    empty = tmp_path / "empty"  # where pre_gen runs in a first bake
    empty.mkdir()
    pre, post = tmp_path / "pre.py", tmp_path / "post.py"
    pre.write_text(render_hook("pre_gen_project.py", **answers))
    post.write_text(render_hook("post_gen_project.py", **answers))

    for script, folder in ((pre, empty), (post, project), (post, project)):
        result = subprocess.run(
            [python, str(script)],
            cwd=folder,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert result.returncode == 0, f"{version} {script.name}: {result.stderr}"
    assert list(empty.iterdir()) == []
    assert not (project / "LICENSE").exists()
    assert not (project / ".github").exists()
    assert (project / "train.py").is_file()


def test_bakes_with_stdin_closed(tmp_path):
    result = subprocess.run(
        f"'{sys.executable}' -m cookiecutter '{TEMPLATE}' --no-input -o '{tmp_path}' <&-",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my_project" / "train.py").is_file()
