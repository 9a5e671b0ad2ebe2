"""What every launcher (train.py, eval.py, ...) shares: setup, and one-line errors."""

import difflib
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from .errors import UserError
from .resolvers import register_resolvers


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _unknown_key(error: ConfigKeyError | ConfigAttributeError) -> str:
    key = error.full_key or str(error.key)
    parent = error.parent_node
    known = sorted(str(k) for k in parent) if isinstance(parent, DictConfig) else []
    close = difflib.get_close_matches(str(error.key), known, n=1)
    hint = (
        f"did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}? "
        if close
        else ""
    )
    listing = f"valid keys here: {', '.join(known)}" if known else ""
    return f"unknown config key '{key}'; {hint}{listing} (prefix with + to add a new key)"


def explain(error: BaseException) -> str | None:
    """A one-line message for bad input, or None for a bug (which keeps its traceback)."""
    for link in _chain(error):
        if isinstance(link, UserError):
            return str(link)
        if isinstance(link, MissingConfigException) and link.options is not None:
            missing = (link.missing_cfg_file or "").strip("/")
            group = missing.rsplit("/", 1)[0]
            return (
                f"no config '{missing}'; available in '{group}': {', '.join(sorted(link.options))}"
            )
        if isinstance(link, ConfigKeyError | ConfigAttributeError) and link.parent_node is not None:
            return _unknown_key(link)
        if isinstance(link, OverrideParseException):
            return " ".join(str(link).split())
    for link in _chain(error):
        if isinstance(link, ConfigCompositionException | OmegaConfBaseException):
            return "; ".join(line.strip() for line in str(link).splitlines() if line.strip())
        if isinstance(link, OSError) and link.filename:
            return (
                f"cannot write {link.filename}: {link.strerror}; "
                "point paths.log_dir (or the output path) at a writable folder"
            )
    return None


def _report(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _drop_empty_run_folder() -> None:
    """Hydra makes the run folder and its log before the task starts: a run that stopped on
    bad input before writing anything else leaves no folder behind."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    if folder.is_dir() and all(path.suffix == ".log" for path in folder.iterdir()):
        shutil.rmtree(folder)


def one_line_errors(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Decorate a launcher's task function: bad input found while running ends in one line.

    Inside a multirun the error propagates instead, so the sweeper records a failed job
    and goes on with the others.
    """

    @functools.wraps(task)
    def run(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except UserError as error:
            if HydraConfig.get().mode == RunMode.MULTIRUN:
                raise
            _drop_empty_run_folder()
            _report(str(error))

    return run


def launch(main: Callable[[], Any]) -> None:
    """Run a ``@hydra.main`` function; bad input ends in one line on stderr and exit code 2."""
    register_resolvers()
    # Hydra would print bad-input errors itself, over several lines: let them reach us.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as error:
        message = explain(error)
        if message is None:
            raise
        _report(message)
