"""Every logger records one short real epoch, offline, and its own reader finds the run.

The logger packages come with the `loggers` extra, which the `dev` extra includes.
"""

import csv
import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.utils.loggers import RunWandbLogger, wandb_should_run_offline

from .conftest import PLOTTED_RUN

# Each logger's own reader after a real run; wandb and mlflow start slowly.
pytestmark = pytest.mark.slow


PROJECT_SLUG = "{{ cookiecutter.package_name }}"
TRAINED = {"train/loss", "val/loss", "val/acc", "test/acc", "test/f1"}
PLOTS = {"plots/learning_curves", "plots/confusion_matrix", "plots/test_samples"}


def train_with(make_cfg, logger: str) -> tuple[Path, str]:
    """Train one short epoch with ``logger=...``: the run folder and the model's target."""
    cfg = make_cfg([f"logger={logger}", *PLOTTED_RUN])
    train(cfg)
    return Path(cfg.paths.output_dir), cfg.model._target_


def test_csv_and_tensorboard_together_each_record_metrics_and_hyperparameters(make_cfg):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    run_dir, model = train_with(make_cfg, "[csv,tensorboard]")
    with (run_dir / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert {name for name in TRAINED if any(row.get(name) for row in rows)} == TRAINED

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["scalars"]) >= TRAINED
    assert set(events.Tags()["images"]) >= PLOTS

    for hparams_file in (run_dir / "hparams.yaml", run_dir / "tensorboard" / "hparams.yaml"):
        hparams = yaml.safe_load(hparams_file.read_text())
        assert hparams["model"]["_target_"] == model
        assert hparams["parameters"]["total"] == hparams["parameters"]["trainable"] > 0

    # The HParams dashboard: the hyper-parameters with the run's final metrics as hp/<name>.
    plugin = {
        tag: HParamsPluginData.FromString(content)
        for tag, content in events.PluginTagToContent("hparams").items()
    }
    shown = plugin["_hparams_/session_start_info"].session_start_info.hparams
    assert shown["model/_target_"].string_value == model
    assert shown["optimizer/lr"].number_value == pytest.approx(hparams["optimizer"]["lr"])
    columns = {info.name.tag for info in plugin["_hparams_/experiment"].experiment.metric_infos}
    final = json.loads((run_dir / "metrics.json").read_text())
    assert columns == {f"hp/{name}" for name in final}
    [test_acc] = events.Scalars("hp/test/acc")
    assert test_acc.value == pytest.approx(final["test/acc"])


def test_mlflow_store_holds_params_metrics_and_both_checkpoints(make_cfg, log_dir):
    from mlflow import MlflowClient

    _, model = train_with(make_cfg, "mlflow")
    client = MlflowClient(f"sqlite:///{log_dir}/mlflow.db")
    experiment = client.get_experiment_by_name(PROJECT_SLUG)
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["model/_target_"] == model
    assert int(run.data.params["parameters/total"]) > 0
    assert set(run.data.metrics) >= TRAINED
    for name in ("best", "last"):
        logged = {artifact.path for artifact in client.list_artifacts(run.info.run_id, name)}
        assert f"{name}/{name}.ckpt" in logged
    plots = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "plots")}
    assert {f"{name}.png" for name in PLOTS} <= plots
    # Everything stays under logs/: the store, and the artifacts beside it.
    assert Path(experiment.artifact_location.removeprefix("file://")).parent == log_dir


WANDB_BLOCK, WANDB_HEADER = 32768, 7


def wandb_records(path: Path) -> Iterator:
    """The records of an offline run file (.wandb), as ``wandb sync`` reads them.

    wandb ships no Python reader for its own files any more; they are a LevelDB-style log
    (32 KiB blocks of checksum, length, type, data) of wandb's protobuf ``Record``s.
    """
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    position, pending = WANDB_HEADER, b""
    while position + WANDB_HEADER <= len(data):
        left_in_block = WANDB_BLOCK - position % WANDB_BLOCK
        if left_in_block < WANDB_HEADER:
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + WANDB_HEADER])
        position += WANDB_HEADER
        pending += data[position : position + length]
        position += length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


@pytest.fixture
def no_wandb_account(monkeypatch, tmp_path):
    """No API key anywhere, and wandb's own settings kept out of the home folder."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.setenv(name, "")  # restored (or removed) after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))


def test_wandb_without_an_api_key_runs_offline_and_can_be_synced_later(make_cfg, no_wandb_account):
    run_dir, model = train_with(make_cfg, "wandb")
    [offline_run] = (run_dir / "wandb").glob("offline-run-*")
    [run_file] = offline_run.glob("run-*.wandb")
    logged, config = set(), {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            assert record.run.project == PROJECT_SLUG
        elif kind == "history":
            logged |= {"/".join(item.nested_key) or item.key for item in record.history.item}
        elif kind == "config":
            config |= {item.key: json.loads(item.value_json) for item in record.config.update}
    assert logged >= TRAINED
    assert {f"{name}/filenames" for name in PLOTS} <= logged
    assert config["model"]["_target_"] == model
    assert config["parameters"]["total"] > 0

    synced = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", "--dry-run", str(offline_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    assert "Would sync 1 run" in synced.stdout + synced.stderr


def test_wandb_goes_offline_when_its_server_is_unreachable(no_wandb_account, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    assert wandb_should_run_offline()
    monkeypatch.setenv("WANDB_MODE", "online")  # an explicit choice wins
    assert not wandb_should_run_offline()


def test_a_failed_wandb_run_is_closed_so_the_next_run_of_a_sweep_starts_afresh(
    no_wandb_account, tmp_path
):
    import wandb

    logger = RunWandbLogger(project=PROJECT_SLUG, save_dir=str(tmp_path))
    assert logger.experiment is wandb.run
    logger.finalize("failed")  # what Lightning calls when fit raises
    assert wandb.run is None
