"""Projects pull template improvements with cruft, keeping their own edits."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import TEMPLATE

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
CRUFT = [sys.executable, "-m", "cruft"]
IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", "*_cache")


def run(cwd: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def commit_all(repo: Path, message: str) -> None:
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)


def test_cruft_update_brings_in_a_template_change_and_keeps_user_edits(tmp_path):
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=IGNORED)
    run(template, "git", "init", "-q")
    commit_all(template, "template v1")

    run(tmp_path, *CRUFT, "create", str(template), "--no-input", "--output-dir", "out")
    project = tmp_path / "out" / "my_project"
    recorded = json.loads((project / ".cruft.json").read_text())
    assert recorded["template"] == str(template)
    assert recorded["context"]["cookiecutter"]["project_slug"] == "my_project"
    run(project, "git", "init", "-q")
    commit_all(project, "baked")

    user_model = project / "configs" / "model" / "mlp.yaml"
    user_model.write_text(user_model.read_text() + "# tuned by the user\n")
    commit_all(project, "user edit")

    baked = template / "{{cookiecutter.project_slug}}"
    (baked / "configs" / "model" / "from_template.yaml").write_text(
        "_target_: {{ cookiecutter.package_name }}.models.mlp.MLP\nhidden_sizes: [32]\n"
    )
    trainer = baked / "configs" / "trainer" / "default.yaml"
    trainer.write_text(trainer.read_text().replace("log_every_n_steps: 10", "log_every_n_steps: 5"))
    commit_all(template, "template v2")

    assert run(project, *CRUFT, "check", check=False).returncode != 0, "v2 is not seen as newer"
    run(project, *CRUFT, "update", "--skip-apply-ask")

    assert (
        (project / "configs" / "model" / "from_template.yaml")
        .read_text()
        .startswith("_target_: my_project.models.mlp.MLP")
    )
    assert "log_every_n_steps: 5" in (project / "configs" / "trainer" / "default.yaml").read_text()
    assert user_model.read_text().endswith("# tuned by the user\n"), "the user's edit was lost"
    run(project, *CRUFT, "check")
