"""The baked default project passes its own test suite."""

import re

from .conftest import run_in


def test_default_project_passes_its_own_tests(bake, report):
    project = bake()
    # About 20 minutes on 2 cores: every interrupt, lock and bad-value case is a real process.
    result = run_in(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=2400)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    report(f"baked project's tests: {summary}")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", summary), summary
    assert "failed" not in summary and "skipped" not in summary
