"""What serving costs: requests/s and latency through the HTTP server (a process of its own,
as deployed) with 1 and many concurrent clients, against calling the model in-process."""

from __future__ import annotations

import http.client
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.table import Table

from ..utils.console import console
from ..utils.errors import ConfigError, DataError
from .app import RequestError, parse_inputs
from .serve import load

if TYPE_CHECKING:
    from .inference import Predictor


def request_body(cfg: DictConfig, predictor: Predictor) -> bytes:
    """The body every timed request sends: ``benchmark_body``, or one example of zeros."""
    if cfg.benchmark_body is None:
        zeros = torch.zeros(1, *predictor.preprocessing.raw_shape).tolist()
        return json.dumps({"inputs": zeros}).encode()
    path = Path(cfg.benchmark_body)
    if not path.is_file():
        raise ConfigError(f"benchmark_body={path} does not exist; give a JSON request body file")
    return path.read_bytes()


def latency_summary(seconds: list[float], requests: int, wall: float) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "requests_per_s": requests / wall,
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": cuts[98] * 1000,
        "requests": requests,
    }


def time_in_process(
    predictor: Predictor, raw: torch.Tensor, per_call: int, calls: int
) -> dict[str, float]:
    """``calls`` model calls of ``per_call`` requests each, one after another."""
    batch = raw.repeat(per_call, *([1] * (raw.dim() - 1)))
    for _ in range(3):  # warm-up: allocator, lazy initialisation
        predictor(batch)
    seconds = []
    start = time.perf_counter()
    for _ in range(calls):
        begin = time.perf_counter()
        predictor(batch)
        seconds.append(time.perf_counter() - begin)
    return latency_summary(seconds, calls * per_call, time.perf_counter() - start)


def time_http(host: str, port: int, body: bytes, clients: int, per_client: int) -> dict[str, float]:
    """``clients`` threads, each with its own keep-alive connection, sending ``per_client``
    requests one after another; all start together."""
    seconds: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)

        def post() -> None:
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})

        post()  # warm-up: the connection and the server's first call
        connection.getresponse().read()
        barrier.wait()
        mine = []
        for _ in range(per_client):
            begin = time.perf_counter()
            post()
            response = connection.getresponse()
            answer = response.read()
            mine.append(time.perf_counter() - begin)
            if response.status != 200:
                failures.append(answer.decode(errors="replace"))
        connection.close()
        with lock:
            seconds.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if failures:
        raise DataError(f"the server refused the benchmark's request: {failures[0]}")
    return latency_summary(seconds, clients * per_client, wall)


def start_server(
    cfg: DictConfig, checkpoint: Path, project_root: Path, folder: Path
) -> tuple[subprocess.Popen[str], str, int]:
    """``serve.py`` on a free local port, as a user starts it; its serve.log goes to
    ``folder``. Returns the process and where it listens."""
    command = [
        sys.executable,
        str(project_root / "serve.py"),
        f"ckpt_path={checkpoint.resolve()}",
        "host=127.0.0.1",
        "port=0",
        f"device={cfg.device}",
        f"threads={'null' if cfg.threads is None else cfg.threads}",
        f"max_batch_size={cfg.max_batch_size}",
        f"batch_timeout_ms={cfg.batch_timeout_ms}",
        f"max_inputs={cfg.max_inputs}",
        f"paths.log_dir={Path(cfg.paths.log_dir).resolve()}",
        f"hydra.run.dir={folder}",
    ]
    server = subprocess.Popen(
        command, cwd=project_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    for line in server.stdout:  # the line saying where it listens, or EOF if it failed
        if " at http://" in line:
            address = line.split(" at http://", 1)[1].split()[0]
            host, port = address.rsplit(":", 1)
            return server, host, int(port)
    server.wait()
    error = server.stderr.read().strip() if server.stderr else ""
    raise ConfigError(
        f"the server did not start: {error.splitlines()[-1] if error else server.returncode}"
    )


def stop_server(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def benchmark_serving(cfg: DictConfig, project_root: Path) -> dict[str, Any]:
    clients = [int(count) for count in cfg.benchmark_clients]
    requests = int(cfg.benchmark_requests)
    if not clients or min(clients) < 1 or requests < 2:
        raise ConfigError(
            "benchmark_clients must list client counts of at least 1 and benchmark_requests "
            f"be at least 2 (got {clients} and {requests})"
        )
    run, predictor = load(cfg)
    body = request_body(cfg, predictor)
    try:
        examples = predictor.preprocessing.from_json(parse_inputs(body, int(cfg.max_inputs)))
    except (RequestError, DataError) as error:
        raise ConfigError(f"benchmark_body: {error}") from None
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    results: dict[str, Any] = {
        "checkpoint": str(run.checkpoint),
        "device": str(predictor.device),
        "threads": torch.get_num_threads(),
        "examples_per_request": len(examples),
        "max_batch_size": int(cfg.max_batch_size),
        "batch_timeout_ms": float(cfg.batch_timeout_ms),
        "in_process": {},
        "http": {},
    }
    for count in clients:
        # In-process, ``count`` clients' requests at their best: one call for all of them.
        per_call = time_in_process(predictor, examples.raw, count, max(requests // count, 2))
        results["in_process"][str(count)] = per_call
    server, host, port = start_server(cfg, run.checkpoint, project_root, run_dir / "server")
    try:
        for count in clients:
            results["http"][str(count)] = time_http(
                host, port, body, count, max(requests // count, 2)
            )
    finally:
        stop_server(server)
    (run_dir / "serve_benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    print_results(results, run_dir)
    return results


def print_results(results: dict[str, Any], run_dir: Path) -> None:
    table = Table(
        title=f"serving {results['examples_per_request']} example(s) per request on "
        f"{results['device']} ({results['threads']} threads), batches of up to "
        f"{results['max_batch_size']}"
    )
    for column in ("how", "clients", "requests/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    rows = [("HTTP server", results["http"]), ("in-process, one call", results["in_process"])]
    for label, by_clients in rows:
        for clients, row in by_clients.items():
            table.add_row(
                label,
                clients,
                f"{row['requests_per_s']:.1f}",
                f"{row['p50_ms']:.3f}",
                f"{row['p99_ms']:.3f}",
            )
    console.print(table)
    console.print(
        "in-process, one call: the requests of all clients in one Predictor call, the best "
        "any server can do; HTTP adds parsing, the network stack and waiting for a batch.",
        soft_wrap=True,
    )
    console.print(f"[bold]results:[/bold] {run_dir / 'serve_benchmark.json'}", soft_wrap=True)
