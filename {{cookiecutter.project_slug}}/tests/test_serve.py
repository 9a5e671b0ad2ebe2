"""serve.py as a user runs it: a real server process on a free local port, called over HTTP,
answering as predict.py does, refusing bad requests in one line, batching, stopping cleanly."""

import csv
import json
import math
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from .conftest import PROJECT, SHORT_RUN, project_env, run_python
from .datafiles import write_sklearn_table

pytestmark = pytest.mark.slow  # every test here needs a trained run and a server process

DIGITS = load_digits()
# The module's server waits this long for other requests to batch with: long enough that
# requests sent together on a busy 2-core machine still meet, short enough for the suite.
BATCH_TIMEOUT_MS = 100
MAX_INPUTS = 50


def serve_section_lines() -> list[str]:
    """The command lines of the README's "Serve" section (comments cut), in order."""
    text = (PROJECT / "README.md").read_text()
    section = re.search(r"^## Serve\n(.*?)^## ", text, flags=re.MULTILINE | re.DOTALL)
    assert section, "the README has a '## Serve' section"
    lines = []
    for block in re.findall(r"^```bash\n(.*?)^```", section.group(1), re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"(^|\s)#.*$", "", line).strip()
            if command:
                lines.append(command)
    return lines


# tests/test_readme.py leaves these to this file, which runs them against a live server.
README_COMMANDS = serve_section_lines()


class Server:
    """``python serve.py port=0 ...`` in a process of its own; knows where it listens."""

    def __init__(self, *overrides: str, folder: Path) -> None:
        """``folder`` gets the serve run's folder (``run/``, with serve.log) and stderr."""
        self.folder = folder / "run"
        self.stderr = folder / "stderr.txt"
        folder.mkdir(parents=True, exist_ok=True)
        self.stderr_file = self.stderr.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "serve.py", *overrides, f"hydra.run.dir={self.folder}"],
            cwd=PROJECT,
            env=project_env(),
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.lines.get(timeout=180)
        assert line and " at http://" in line, f"no address printed:\n{self.stderr.read_text()}"
        self.url = re.search(r"http://\S+", line).group()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def call(self, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        return call(self.url + path, body)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum``; the exit code, stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        self.stderr_file.close()
        return code, "".join(self.stdout), self.stderr.read_text()


def call(url: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """GET (no body) or POST ``url``; the status and the JSON answer, errors included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def body(inputs: Any) -> bytes:
    return json.dumps({"inputs": inputs}).encode()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny digits run, trained as a user trains it."""
    logs = tmp_path_factory.mktemp("serve") / "logs"
    result = run_python("train.py", *SHORT_RUN, f"paths.log_dir={logs}")
    assert result.returncode == 0, result.stderr[-3000:]
    return logs


@pytest.fixture(scope="module")
def server(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        "run=latest",
        "port=0",
        f"batch_timeout_ms={BATCH_TIMEOUT_MS}",
        f"max_inputs={MAX_INPUTS}",
        "threads=1",
        f"paths.log_dir={log_dir}",
        folder=tmp_path_factory.mktemp("server"),
    )
    yield running
    running.stop(signal.SIGKILL)  # if a test failed before the last one stopped it


def test_health_names_the_run_the_model_and_its_classes(server, log_dir):
    status, health = server.call("/health")
    assert status == 200
    assert health["status"] == "ok"
    assert health["run"] == (log_dir / "train" / "latest").resolve().name
    assert health["model"].endswith(".MLP")
    assert health["classes"] == [str(digit) for digit in range(10)]
    assert health["input_shape"] == [1, 8, 8]
    assert health["device"] == "cpu" and health["threads"] == 1


def assert_same_predictions(served: list[dict[str, Any]], expected: list[dict[str, str]]):
    assert len(served) == len(expected) > 0
    classes = [str(digit) for digit in range(10)]
    for prediction, row in zip(served, expected, strict=True):
        assert prediction["predicted"] == row["predicted"]
        for name in classes:
            assert math.isclose(prediction[name], float(row[name]), abs_tol=1e-5), name
    probabilities = np.array([[p[name] for p in served] for name in classes])
    assert np.allclose(probabilities.sum(axis=0), 1, atol=1e-5), "probabilities, not logits"


def test_served_predictions_equal_predict_py_and_the_experiment(server, log_dir, tmp_path):
    count = 20
    np.save(tmp_path / "inputs.npy", DIGITS.data[:count])
    predicted = run_python(
        "predict.py",
        "run=latest",
        f"input={tmp_path / 'inputs.npy'}",
        f"output={tmp_path / 'predictions.csv'}",
        f"paths.log_dir={log_dir}",
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    with (tmp_path / "predictions.csv").open() as file:
        expected = list(csv.DictReader(file))
    with (log_dir / "train" / "latest" / "test_predictions.csv").open() as file:
        # The experiment's test predictions; each row is the index of an image in the digits.
        tested = list(csv.DictReader(file))[:MAX_INPUTS]
    tested_images = DIGITS.images[[int(row["row"]) for row in tested], None]

    status, answer = server.call("/predict", body(DIGITS.images[:count, None].tolist()))
    tested_status, tested_answer = server.call("/predict", body(tested_images.tolist()))

    assert status == tested_status == 200, (answer, tested_answer)
    assert_same_predictions(answer["predictions"], expected)
    assert_same_predictions(tested_answer["predictions"], tested)


def write_rows(path: Path, rows: list[dict[str, float | None]]) -> Path:
    """Rows as a CSV file with a header; None as an empty cell."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else repr(v) for k, v in row.items()} for row in rows)
    return path


def test_a_table_is_served_by_column_name_in_the_targets_units(tmp_path):
    """scikit-learn's diabetes table (a regression): rows sent as ``{column: value}`` are
    answered in the target's units as the experiment tested them and, with gaps, as
    predict.py answers on the same rows."""
    table = write_sklearn_table(tmp_path / "diabetes.csv", "diabetes")
    logs = tmp_path / "logs"
    trained = run_python(
        "train.py", "data=csv", f"data.path={table}", *SHORT_RUN, f"paths.log_dir={logs}"
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    with table.open(newline="") as file:
        table_rows = [
            {name: float(value) for name, value in row.items()} for row in csv.DictReader(file)
        ]
    with (logs / "train" / "latest" / "test_predictions.csv").open(newline="") as file:
        tested = list(csv.DictReader(file))[:20]  # row: the row's index in the table
    rows: list[dict[str, float | None]] = [dict(row) for row in table_rows[:20]]
    for row in rows[::5]:
        row["bmi"] = None  # a missing value: null in JSON, an empty cell in the CSV
    sent = write_rows(tmp_path / "sent.csv", rows)
    predicted = run_python(
        "predict.py", f"input={sent}", f"output={tmp_path / 'p.csv'}", f"paths.log_dir={logs}"
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    with (tmp_path / "p.csv").open(newline="") as file:
        expected = [float(row["progression"]) for row in csv.DictReader(file)]
    served = Server("port=0", f"paths.log_dir={logs}", folder=tmp_path / "server")
    try:
        _, health = served.call("/health")
        status, answer = served.call("/predict", body(rows))
        tested_status, tested_answer = served.call(
            "/predict", body([table_rows[int(row["row"])] for row in tested])
        )
        missing = served.call("/predict", body([{"age": 50.0}]))
    finally:
        served.stop(signal.SIGKILL)

    assert health["kind"] == "regression" and health["outputs"] == ["progression"]
    assert status == 200, answer
    values = [prediction["progression"] for prediction in answer["predictions"]]
    assert values == pytest.approx(expected, abs=1e-5, rel=1e-6)
    assert 25 < np.mean(values) < 346, "in the target's units, not standardised"
    assert tested_status == 200, tested_answer
    assert [p["progression"] for p in tested_answer["predictions"]] == pytest.approx(
        [float(row["progression"]) for row in tested], abs=1e-5, rel=1e-6
    )
    assert missing[0] == 422 and "bmi" in missing[1]["error"]


BAD_REQUESTS = {
    "invalid JSON": (b'{"inputs": [1, 2', 400),
    "not an object": (b"[1, 2, 3]", 400),
    "missing inputs": (b'{"examples": []}', 400),
    "inputs not a list": (b'{"inputs": 3}', 400),
    "NaN": (b'{"inputs": [NaN]}', 400),
    "empty": (body([]), 422),
    "wrong shape": (body([[1.0, 2.0]]), 422),
    "text numbers": (body([[[str(value) for value in row] for row in DIGITS.images[0]]]), 422),
    "too many inputs": (body(DIGITS.images[: MAX_INPUTS + 1, None].tolist()), 413),
    "overflowing numbers": (body((DIGITS.images[:1, None] * 1e39).tolist()), 422),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_a_bad_request_is_answered_4xx_in_one_line_and_the_server_goes_on(server, name):
    request, expected = BAD_REQUESTS[name]

    status, answer = server.call("/predict", request)

    assert status == expected, answer
    assert list(answer) == ["error"]
    assert answer["error"] and "\n" not in answer["error"] and "Traceback" not in answer["error"]
    status, answer = server.call("/predict", body(DIGITS.images[:1, None].tolist()))
    assert status == 200 and len(answer["predictions"]) == 1


def test_unknown_paths_and_methods_are_answered_in_one_line(server):
    for path, request, expected in [("/nothing", None, 404), ("/predict", None, 405)]:
        status, answer = server.call(path, request)
        assert status == expected
        assert "POST /predict" in answer["error"] and "\n" not in answer["error"]


def test_requests_sent_together_share_model_calls_and_each_gets_its_own_rows(server):
    count = 16
    images = DIGITS.images[100 : 100 + count, None]
    _, alone = server.call("/predict", body(images.tolist()))
    _, before = server.call("/health")
    answers: list[Any] = [None] * count
    start = threading.Barrier(count)

    def send(index: int) -> None:
        start.wait()
        answers[index] = server.call("/predict", body(images[index : index + 1].tolist()))

    threads = [threading.Thread(target=send, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    _, after = server.call("/health")
    calls = after["batching"]["model_calls"] - before["batching"]["model_calls"]
    assert after["batching"]["examples"] - before["batching"]["examples"] == count
    assert calls < count, f"{count} requests sent together took {calls} model calls"
    assert after["batching"]["largest_batch"] > 1
    for index, (status, answer) in enumerate(answers):
        assert status == 200
        (prediction,) = answer["predictions"]
        expected = alone["predictions"][index]
        assert prediction["predicted"] == expected["predicted"]
        for name in map(str, range(10)):
            assert math.isclose(prediction[name], expected[name], abs_tol=1e-5)


def test_a_taken_port_or_a_bad_option_ends_in_one_line(server, log_dir):
    port = server.url.rsplit(":", 1)[1]
    for override, words in [
        (f"port={port}", f"cannot listen on 127.0.0.1:{port}"),
        ("port=70000", "port=70000 is not a port number"),
        ("threads=0", "threads=0 must be at least 1"),
    ]:
        result = run_python("serve.py", override, f"paths.log_dir={log_dir}")
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def as_request(line: str, url: str, cwd: Path) -> tuple[str, bytes | None]:
    """A README ``curl`` line as (url, body): its URL on this server, its -d data."""
    words = shlex.split(line)
    target = next(word for word in words if "localhost:8000" in word)
    data = next((words[i + 1] for i, word in enumerate(words) if word in ("-d", "--data")), None)
    if data is not None and data.startswith("@"):
        data = (cwd / data[1:]).read_text()
    return target.replace("http://", "").replace("localhost:8000", url), (
        data.encode() if data is not None else None
    )


def stop_with_ctrl_c(running: Server) -> None:
    code, stdout, stderr = running.stop(signal.SIGINT)
    assert code == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert stdout.splitlines()[-1] == "stopped"


def test_the_readme_serve_commands_work(log_dir, tmp_path):
    """Each line of the README's Serve section, in order: the server, the requests (curl's
    URL and body, sent with urllib), Ctrl+C, the benchmark."""
    kinds = {"server": 0, "curl": 0, "python -c": 0, "benchmark": 0}
    # ``python`` is this interpreter, as in the environment the README has the user make.
    env = {
        **project_env(),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    running = None
    try:
        for line in README_COMMANDS:
            words = shlex.split(line)
            if words[:2] == ["python", "serve.py"] and "benchmark=true" in words:
                kinds["benchmark"] += 1
                if running is not None:  # the user stops the server first: its port is taken
                    stop_with_ctrl_c(running)
                    running = None
                check_benchmark(words[2:], log_dir)
            elif words[:2] == ["python", "serve.py"]:
                kinds["server"] += 1
                overrides = [w.replace("port=8000", "port=0") for w in words[2:]]
                running = Server(*overrides, f"paths.log_dir={log_dir}", folder=tmp_path)
            elif words[:2] == ["python", "-c"]:
                kinds["python -c"] += 1
                result = subprocess.run(
                    ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True
                )
                assert result.returncode == 0, result.stderr
            elif words[0] == "curl":
                kinds["curl"] += 1
                assert running is not None, f"{line}: no server started before it"
                url, data = as_request(line, running.url.removeprefix("http://"), tmp_path)
                status, answer = call(f"http://{url}", data)
                assert status == 200, (line, answer)
                assert "predictions" in answer or answer.get("status") == "ok"
            else:
                raise AssertionError(f"{line!r}: teach tests/test_serve.py to run it")
        if running is not None:
            stop_with_ctrl_c(running)
            running = None
    finally:
        if running is not None:
            running.stop(signal.SIGKILL)
    assert all(kinds.values()), f"the Serve section lacks some kind of command: {kinds}"


def check_benchmark(overrides: list[str], log_dir: Path) -> None:
    """The benchmark with a tiny request count: every figure it prints is a number."""
    result = run_python(
        "serve.py",
        *overrides,
        "benchmark_requests=8",
        "benchmark_clients=[1,4]",
        f"paths.log_dir={log_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if "HTTP" in line or "in-process," in line]
    figures = {}
    for row in rows:
        cells = [cell.strip() for cell in re.split(r"[│┃|]", row) if cell.strip()]
        if len(cells) == 5:
            figures[(cells[0], cells[1])] = [float(cell) for cell in cells[2:]]
    assert set(figures) == {
        (how, clients) for how in ("HTTP server", "in-process, one call") for clients in "14"
    }, result.stdout
    for values in figures.values():
        assert all(math.isfinite(value) and value > 0 for value in values), figures
    saved = json.loads(next((log_dir / "serve").glob("runs/*/serve_benchmark.json")).read_text())
    assert saved["http"]["4"]["requests"] == 8


def test_sigterm_stops_the_server_cleanly(server):
    """As ``docker stop`` does (Ctrl+C: the README's server above). The module's server:
    this test comes last."""
    code, stdout, stderr = server.stop(signal.SIGTERM)

    assert code == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert stdout.splitlines()[-1] == "stopped"
    access_log = (server.folder / "serve.log").read_text()
    assert '"GET /health HTTP/1.1" 200' in access_log, "the access log goes to the run folder"
