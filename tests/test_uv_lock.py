"""A bake installs from its own uv.lock: locked, synced by its CI's own install step, trained
with `uv run`; a dependency changed without `uv lock` fails that step.

uv reads the bake's pyproject.toml, which takes torch and torchvision from PyTorch's CPU index
on Linux. Where pip is configured with those wheels on this machine's disk (find-links, a
file:// index), the test hands the same files to uv under that index's name, so nothing
comes from download.pytorch.org (a disk without a CPU torchvision lends PyPI's, which the
lock names but nothing installs); elsewhere uv downloads from the real index. Either way the
lock's torch must be a CPU build before anything is installed: a CUDA torch is gigabytes.
uv's cache is its default one (~/.cache/uv, or UV_CACHE_DIR), so a second run is quick.
"""

import hashlib
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse
from urllib.request import url2pathname

import tomllib
import yaml
from packaging.utils import canonicalize_name
from uv import find_uv_bin

from .conftest import bake_into

# The baked tests' SHORT_RUN (tests/conftest.py there): a real run of a few batches.
SHORT_RUN = (
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
    "callbacks.plots=null",
)
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# What a CUDA torch pulls in; a CPU lock has none of them.
CUDA_PACKAGE = re.compile(r"^(nvidia-|triton$|cuda-)")


def pip_setting(*names: str) -> list[str]:
    """The values pip uses for these settings, from its config files and PIP_* variables."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values: list[str] = []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.rpartition(".")[2] in names:
            values += [v for v in value.strip("'\"").split() if v not in values]
    return values


def local_path(location: str) -> Path:
    return Path(url2pathname(urlparse(location).path)) if "://" in location else Path(location)


def wheels_pip_finds(package: str) -> list[str]:
    """file:// URLs, with their sha256, of the wheels of `package` that pip's configuration
    offers from this disk; the CPU builds alone when there are any."""
    urls = []
    for folder in map(local_path, pip_setting("find-links")):
        for wheel in sorted(folder.glob(f"{package}-*.whl")):
            with wheel.open("rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
            urls.append(f"{wheel.as_uri()}#sha256={digest}")
    for index in pip_setting("index-url", "extra-index-url"):
        page = local_path(index) / package / "index.html"
        if index.startswith("file:") and page.is_file():
            hrefs = re.findall(r'href="([^"]+\.whl[^"]*)"', page.read_text())
            urls += [urljoin(page.as_uri(), href) for href in hrefs]
    cpu = [url for url in urls if "+cpu" in unquote(url)]
    return cpu or urls


def index_on_disk(root: Path, packages: list[str]) -> Path | None:
    """A simple (PEP 503) index of the wheels pip has on disk for these packages, standing in
    for PyTorch's index; None when any of them has none. uv reads a folder of wheels only as
    --find-links, which cannot replace a named index, hence the pages."""
    for package in packages:
        urls = wheels_pip_finds(package)
        if not urls:
            return None
        (root / package).mkdir(parents=True)
        links = "".join(
            f'<a href="{url}">{unquote(urlparse(url).path.rsplit("/", 1)[-1])}</a>\n'
            for url in urls
        )
        (root / package / "index.html").write_text(links)
    return root


def run_command(
    project: Path, environment: dict[str, str], command: list[str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )


def uv(
    project: Path, environment: dict[str, str], *arguments: str
) -> subprocess.CompletedProcess[str]:
    return run_command(project, environment, [find_uv_bin(), *arguments])


def locked(project: Path) -> dict[str, list[dict]]:
    """uv.lock's packages by name (a name appears twice when platforms lock different ones)."""
    packages: dict[str, list[dict]] = {}
    for package in tomllib.loads((project / "uv.lock").read_text())["package"]:
        packages.setdefault(package["name"], []).append(package)
    return packages


def alone(environment: dict[str, str], package: str) -> str:
    """The version of `package` that installing it alone gets: its newest installable one."""
    command = ["pip", "compile", "-", "--no-header", "--no-annotate", "--python-version", PYTHON]
    result = subprocess.run(
        [find_uv_bin(), *command],
        input=package,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.split() if line.startswith(f"{package}==")]
    return line.partition("==")[2]


def torch_index(project: Path) -> tuple[dict, list[str]]:
    """The bake's index for torch (pyproject's [[tool.uv.index]]) and the packages pinned to it."""
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    [source] = settings["sources"]["torch"]
    [index] = [index for index in settings["index"] if index["name"] == source["index"]]
    pinned = sorted(
        package
        for package, sources in settings["sources"].items()
        if any(source.get("index") == index["name"] for source in sources)
    )
    return index, pinned


def uv_environment(project: Path, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Variables for uv in the bake (its own .venv, this Python, torch from this disk where
    pip has it there) and the torch index the lock will name."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}
    }
    environment |= {
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        # The CI step below calls `uv` by name: this one.
        "PATH": os.pathsep.join([str(Path(find_uv_bin()).parent), os.environ["PATH"]]),
    }
    index, pinned = torch_index(project)
    standin = index_on_disk(tmp_path / "torch-index", pinned)
    if standin is None:
        return environment, index["url"]
    # Replaces the index of that name (it holds pages for the pinned packages only, so uv
    # takes every other package from PyPI, as with the real one).
    environment["UV_INDEX"] = f"{index['name']}={standin}"
    # This disk has wheels for this platform and Python only; the real index has all.
    only_here = (
        f"sys_platform == '{sys.platform}' and platform_machine == '{platform.machine()}'"
        f" and python_version == '{PYTHON}'"
    )
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(f'{text}\n[tool.uv]\nenvironments = ["{only_here}"]\n')
    return environment, str(standin)


def ci_install(project: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The bake's CI step that installs from uv.lock, run with the shell GitHub runs it in."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    [job] = workflow["jobs"].values()
    [step] = [step for step in job["steps"] if step.get("name") == "Install from uv.lock"]
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    return run_command(project, environment, bash)


def test_a_bake_installs_from_its_lock_and_trains(tmp_path):
    project = bake_into(tmp_path, python_version=PYTHON)
    index, pinned = torch_index(project)
    assert index["url"] == "https://download.pytorch.org/whl/cpu" and index["explicit"]
    assert pinned == ["torch", "torchvision"]
    environment, index_url = uv_environment(project, tmp_path)

    missing = ci_install(project, environment)
    assert missing.returncode != 0 and "no uv.lock" in missing.stdout, missing.stdout
    lock = uv(project, environment, "lock")
    assert lock.returncode == 0, lock.stderr

    # Before any download: the lock's Linux torch is the CPU build, from the CPU index.
    packages = locked(project)
    from_index = [
        torch for torch in packages["torch"] if torch["source"] == {"registry": index_url}
    ]
    assert len(from_index) == 1, packages["torch"]
    [torch] = from_index
    assert torch["version"].endswith("+cpu"), torch
    files = [wheel.get("url") or wheel["path"] for wheel in torch["wheels"]]
    assert files and all("+cpu" in unquote(file) for file in files), files
    assert not [name for name in packages if CUDA_PACKAGE.match(name)]

    # The search stack (optuna 2.10, SQLAlchemy 1.4) beside the newest loggers, in one lock.
    versions = {name: {entry["version"] for entry in entries} for name, entries in packages.items()}
    assert "hydra-optuna-sweeper" in versions
    assert all(v.startswith("2.10.") for v in versions["optuna"]), versions["optuna"]
    assert all(v.startswith("1.4.") for v in versions["sqlalchemy"]), versions["sqlalchemy"]
    for logger in ("mlflow", "wandb", "tensorboard"):
        assert versions[logger] == {alone(environment, logger)}, logger

    # uv lock --check, then uv sync --locked --extra dev into the bake's .venv.
    install = ci_install(project, environment)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert (project / ".venv" / "bin" / "python").is_file()

    run = uv(project, environment, "run", "--locked", "python", "train.py", *SHORT_RUN)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    run_dir = (project / "logs" / "train" / "latest").resolve()
    for name in ("config.yaml", "metrics.json", "checkpoints/last.ckpt", "requirements.txt"):
        assert (run_dir / name).is_file(), name
    # The run recorded its packages: every one of them is the locked version.
    installed = dict(
        line.split("==", 1) for line in (run_dir / "requirements.txt").read_text().split()
    )
    installed = {canonicalize_name(name): v for name, v in installed.items()}
    assert installed["torch"] == torch["version"]
    assert {name: v for name, v in installed.items() if v not in versions.get(name, ())} == {}

    # Drift: a dependency changed without `uv lock` is refused, not installed.
    text = (project / "pyproject.toml").read_text()
    assert '"scipy>=1.10",' in text
    (project / "pyproject.toml").write_text(text.replace('"scipy>=1.10",', '"scipy>=1.11",'))
    check = uv(project, environment, "lock", "--check")
    assert check.returncode != 0 and "uv.lock" in check.stderr, check.stderr
    assert ci_install(project, environment).returncode != 0
