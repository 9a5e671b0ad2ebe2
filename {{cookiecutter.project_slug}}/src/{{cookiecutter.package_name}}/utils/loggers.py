"""Logger variants for run folders that outlive one process, and what Lightning's loggers
leave to their users: W&B's offline fallback, image logging and closing the W&B run."""

import csv
import io
import logging
import netrc
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import (
    CSVLogger,
    Logger,
    MLFlowLogger,
    TensorBoardLogger,
    WandbLogger,
)
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only
from matplotlib.image import imread

from .checkpoints import disk_full_in_one_line

log = logging.getLogger(__name__)

WANDB_HOST = "https://api.wandb.ai"


class _RunWriter(ExperimentWriter):
    """metrics.csv that a kill at any moment leaves whole.

    Lightning buffers rows for ``flush_logs_every_n_steps`` and rewrites the file in place
    when a column appears, so a killed run could lose its rows or leave the file empty.
    Here each row is appended as it is logged and a new column writes a temporary file
    renamed over the old one. A resumed run carries on in the same file.
    """

    def _check_log_dir_exists(self) -> None:
        # Lightning deletes an existing metrics.csv here; a resumed run keeps its history.
        self.metrics_keys, _, self._appendable = self._read()

    def _read(self) -> tuple[list[str], list[dict[str, str]], bool]:
        """Columns, complete rows, and whether rows can be appended: the file has a header
        and ends whole (a kill can cut the row being appended short of its line end)."""
        path = Path(self.metrics_file_path)
        text = path.read_text() if path.is_file() else ""
        reader = csv.DictReader(io.StringIO(text[: text.rfind("\n") + 1]))
        rows = list(reader)
        columns = list(reader.fieldnames or [])
        return columns, rows, bool(columns) and text.endswith("\n")

    def save(self) -> None:
        if not self.metrics:
            return
        with disk_full_in_one_line(Path(self.metrics_file_path), Path(self.log_dir)):
            if self._record_new_keys() or not self._appendable:
                self._write([*self._read()[1], *self.metrics])
            else:
                with open(self.metrics_file_path, "a", newline="") as file:
                    csv.DictWriter(file, fieldnames=self.metrics_keys).writerows(self.metrics)
        self.metrics = []

    def discard_from(self, step: int) -> None:
        """Drop the rows logged at ``step`` or later: a resumed run logs them again."""
        _, rows, _ = self._read()
        kept = [row for row in rows if int(float(row["step"])) < step]
        if len(kept) < len(rows):
            self._write(kept)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        path = Path(self.metrics_file_path)
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with temporary.open("w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        self._appendable = True


class RunCSVLogger(CSVLogger):
    """metrics.csv directly in the run folder, each row written as it is logged, appended
    to when the run is resumed."""

    def __init__(self, save_dir: str, **kwargs: Any) -> None:
        super().__init__(save_dir, name="", version="", **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self) -> _RunWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _RunWriter(log_dir=self.log_dir)
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.experiment.save()


def _wandb_api_key_found(host: str) -> bool:
    """An API key in the environment or in the netrc file that ``wandb login`` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return netrc.netrc(path).authenticators(urlparse(host).hostname or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def _reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def wandb_should_run_offline() -> bool:
    """Offline unless W&B can be used: an explicit WANDB_MODE wins; otherwise an API key
    must be found and the server reachable. Offline runs upload later with ``wandb sync``."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode in ("offline", "dryrun")
    host = os.environ.get("WANDB_BASE_URL", WANDB_HOST)
    if not _wandb_api_key_found(host):
        log.info("W&B: no API key (WANDB_API_KEY or `wandb login`), so logging offline")
        return True
    if not _reachable(host):
        log.warning("W&B: %s is unreachable, so logging offline", host)
        return True
    return False


class RunWandbLogger(WandbLogger):
    """Lightning's WandbLogger, offline by default when no account or network is at hand
    (``offline: null``), instead of prompting for a key or waiting on the network."""

    def __init__(self, offline: bool | None = None, **kwargs: Any) -> None:
        if offline is None:
            offline = wandb_should_run_offline()
        super().__init__(offline=offline, **kwargs)
        # Lightning always passes `anonymous`, which wandb warns has no effect any more.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        # Lightning leaves a failed run open; the next run of a sweep would reuse it.
        if status == "failed":
            import wandb

            wandb.finish(exit_code=1)


@rank_zero_only
def log_image(logger: Logger, name: str, png: Path, step: int) -> None:
    """Send a saved PNG to a logger that shows images (CSV has nowhere to put one)."""
    if isinstance(logger, TensorBoardLogger):
        pixels = imread(png)[..., :3]
        logger.experiment.add_image(name, pixels, global_step=step, dataformats="HWC")
    elif isinstance(logger, WandbLogger):
        logger.log_image(name, [str(png)], step=step)
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.log_artifact(logger.run_id, str(png), str(Path(name).parent))


@rank_zero_only
def finish_loggers(loggers: list[Logger], metrics: dict[str, float]) -> None:
    """Give TensorBoard's HParams dashboard the run's hyper-parameters with its final
    metrics (as ``hp/<metric>``, apart from the curves), and end the W&B run once everything
    is logged: Lightning leaves it open until the process exits, and the next run of a
    sweep in the same process would reuse it."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            # Written only when given metrics (default_hp_metric: false writes none before).
            final = {f"hp/{name}": value for name, value in metrics.items()}
            logger.log_hyperparams(logger.hparams, final)
            logger.finalize("success")  # flushes and closes the event file
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        import wandb

        wandb.finish()
