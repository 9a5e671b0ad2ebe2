"""Serve a past run's model over HTTP: raw inputs in, predictions in the user's units out,
through the same Predictor as predict.py."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from ..utils.console import console, silence_known_warnings
from ..utils.errors import ConfigError
from ..utils.runs import TrainedRun, trained_run

if TYPE_CHECKING:  # torch and the web stack load after the config is checked
    from .inference import Predictor


class Stopped(Exception):
    """SIGTERM (``docker stop``, a scheduler): the server stops as on Ctrl+C."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def check_options(cfg: DictConfig) -> None:
    """The serving options, checked before anything is loaded."""
    if not 0 <= int(cfg.port) <= 65535:
        raise ConfigError(f"port={cfg.port} is not a port number (0..65535; 0: any free port)")
    for key in ("max_batch_size", "max_inputs"):
        if int(cfg[key]) < 1:
            raise ConfigError(f"{key}={cfg[key]} must be at least 1")
    if cfg.threads is not None and int(cfg.threads) < 1:
        raise ConfigError(f"threads={cfg.threads} must be at least 1 (null: torch's default)")
    if float(cfg.batch_timeout_ms) < 0:
        raise ConfigError(f"batch_timeout_ms={cfg.batch_timeout_ms} must be 0 or more")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, made here so that a taken port or an unknown host ends in one
    line before the model loads (uvicorn would log it and exit 1)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # With its protocol named (IPPROTO_TCP, not 0), asyncio sets TCP_NODELAY on each
        # connection; without it, Nagle's algorithm holds every response body ~40 ms.
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        return sock
    except OSError as error:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); "
            "choose another port= (0: any free one) or host="
        ) from None


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def load(cfg: DictConfig) -> tuple[TrainedRun, Predictor]:
    import torch

    from .predict import pick_device

    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    run = trained_run(cfg)
    return run, run.predictor(pick_device(cfg.device))


def serve(cfg: DictConfig, project_root: Path) -> dict[str, Any] | None:
    check_options(cfg)
    silence_known_warnings()
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        if cfg.benchmark:
            from .serve_benchmark import benchmark_serving

            return benchmark_serving(cfg, project_root)
        run_server(cfg)
    except (KeyboardInterrupt, Stopped):
        # A server asked to stop has done its job: exit 0, no traceback.
        console.print("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return None


def run_server(cfg: DictConfig) -> None:
    sock = listen(str(cfg.host), int(cfg.port))
    try:
        run, predictor = load(cfg)

        import uvicorn

        from .app import create_app

        url = url_of(sock)

        def ready() -> None:
            console.print(
                f"[bold]serving[/bold] {run.checkpoint} on {predictor.device} at {url} "
                "(POST /predict, GET /health; Ctrl+C stops)",
                soft_wrap=True,
            )
            sys.stdout.flush()  # a pipe (a test, a supervisor) sees the address at once

        app = create_app(
            predictor,
            {"run": run.folder.name, "checkpoint": str(run.checkpoint)},
            max_batch_size=int(cfg.max_batch_size),
            batch_timeout_ms=float(cfg.batch_timeout_ms),
            max_inputs=int(cfg.max_inputs),
            on_ready=ready,
        )
        # log_config=None: uvicorn's records (the access log too) go to serve.log in this
        # serve run's folder, and the console keeps the one line above.
        config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=5)
        # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again:
        # Ctrl+C reaches serve() as KeyboardInterrupt, SIGTERM as Stopped.
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
