"""README's first command, `make demo`, does what the README says it does."""

import re
import subprocess
import sys

from .conftest import TEMPLATE


def test_readme_shows_the_two_commands():
    readme = (TEMPLATE / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme
    assert "make test" in (TEMPLATE / ".ci" / "run").read_text()


def test_make_demo_bakes_trains_and_reports(tmp_path):
    # Reuse this test run's environment instead of building a second one.
    result = subprocess.run(
        ["make", "demo", f"VENV={sys.prefix}", f"DEMO={tmp_path / 'demo'}"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    accuracy = re.search(r"test/acc\s*│\s*([0-9.]+)", result.stdout)
    assert accuracy, result.stdout[-3000:]
    assert float(accuracy.group(1)) >= 0.95
    checkpoint = re.search(r"best checkpoint:\s*(\S+\.ckpt)", result.stdout)
    assert checkpoint, result.stdout[-3000:]
    assert (tmp_path / "demo" / "my_project").is_dir()
