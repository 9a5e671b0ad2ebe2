"""The loss is the researcher's: a config group, any callable by ``_target_``, or a model's own
``loss(outputs, targets)``; the data's kind picks it when nobody does."""

import json
import re
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from {{ cookiecutter.package_name }}.models.losses import FocalLoss
from {{ cookiecutter.package_name }}.pipelines.build import build_data, build_task
from {{ cookiecutter.package_name }}.pipelines.inference import Predictor
from {{ cookiecutter.package_name }}.pipelines.train import train
from {{ cookiecutter.package_name }}.tasks import load_task, task_class
from {{ cookiecutter.package_name }}.utils.config import to_container
from {{ cookiecutter.package_name }}.utils.errors import ConfigError

from .conftest import PROJECT, SHORT_RUN

MODELS = PROJECT / "src" / "{{ cookiecutter.package_name }}" / "models"
MODULE = "{{ cookiecutter.package_name }}.models"


def best_checkpoint(cfg) -> Path:
    return Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"


@pytest.fixture
def user_file():
    """Write a module into the project's models/ as a user would; removed afterwards."""
    written = []

    def write(name: str, source: str) -> str:
        path = MODELS / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        written.append(path)
        return f"{MODULE}.{name}"

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def test_focal_loss_at_gamma_zero_is_cross_entropy():
    logits, targets = torch.randn(32, 5), torch.randint(0, 5, (32,))
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, targets), F.cross_entropy(logits, targets))
    # Easy examples count less: below cross-entropy for any gamma above zero.
    assert FocalLoss(gamma=2.0)(logits, targets) < F.cross_entropy(logits, targets)
    # alpha weighs each example by its class.
    alpha = torch.rand(5)
    weighted = (F.cross_entropy(logits, targets, reduction="none") * alpha[targets]).mean()
    assert torch.allclose(FocalLoss(gamma=0.0, alpha=alpha.tolist())(logits, targets), weighted)


@pytest.mark.slow
def test_huber_trains_an_lstm_on_sine_from_the_command_line(run_script, log_dir):
    run_script(
        "train.py",
        "loss=huber",
        "loss.delta=0.5",
        "data=sine",
        "model=lstm",
        "model.hidden_size=16",
        *SHORT_RUN,
    )
    (run,) = (log_dir / "train" / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["test/loss"] >= 0
    saved = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["loss"] == {"_target_": "torch.nn.HuberLoss", "delta": 0.5}
    criterion = load_task(run / "checkpoints" / "best.ckpt").criterion
    assert isinstance(criterion, torch.nn.HuberLoss) and criterion.delta == 0.5


def test_label_smoothing_and_class_weights_on_digits(make_cfg):
    weights = [1.0] * 9 + [2.0]
    cfg = make_cfg(
        [
            "loss=cross_entropy",
            "loss.label_smoothing=0.1",
            f"loss.weight=[{','.join(map(str, weights))}]",
            *SHORT_RUN,
        ]
    )
    assert train(cfg)["test/loss"] > 0
    checkpoint = best_checkpoint(cfg)
    saved = torch.load(checkpoint, weights_only=True)
    # Checkpoints hold the model's weights; the config rebuilds the loss and its weights.
    assert not [name for name in saved["state_dict"] if name.startswith("criterion.")]
    criterion = load_task(checkpoint).criterion
    assert criterion.label_smoothing == 0.1
    assert criterion.weight.tolist() == weights


def test_the_data_kind_picks_the_loss(make_cfg):
    for data, expected in (("digits", torch.nn.CrossEntropyLoss), ("sine", torch.nn.MSELoss)):
        cfg = make_cfg([f"data={data}"])
        assert cfg.loss == {"_target_": None}
        assert type(build_task(cfg, build_data(cfg.data)).criterion) is expected


def test_a_user_loss_by_target_trains(make_cfg, user_file):
    module = user_file(
        "offset_loss_test",
        """
        import torch.nn.functional as F


        def offset_cross_entropy(outputs, targets, offset=0.0):
            return F.cross_entropy(outputs, targets) + offset
        """,
    )
    offset = 1000.0
    cfg = make_cfg(
        [f"loss._target_={module}.offset_cross_entropy", f"+loss.offset={offset}", *SHORT_RUN]
    )
    metrics = train(cfg)
    # Cross-entropy is positive: every logged loss is the user's, offset and all.
    assert all(metrics[f"{stage}/loss"] > offset for stage in ("train", "val", "test"))


def readme_model() -> str:
    """The model of README's "A model with a loss of its own", as a user copies it."""
    section = (PROJECT / "README.md").read_text().split("### A model with a loss of its own")[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)


def test_a_model_with_its_own_loss_trains_and_logs_that_loss(make_cfg, user_file):
    module = user_file("penalised_test", readme_model())
    model = [f"model._target_={module}.Penalised", "~model.hidden_sizes", "~model.dropout"]
    cfg = make_cfg([*model, "+model.weight=5.0", *SHORT_RUN])
    metrics = train(cfg)

    # The logged test loss is the model's loss, penalty included, over the tested batches.
    task = load_task(best_checkpoint(cfg)).eval()
    datamodule = build_data(cfg.data)
    datamodule.setup("test")
    own, cross_entropy, count = 0.0, 0.0, 0
    with torch.no_grad():
        for _, (inputs, targets) in zip(range(2), datamodule.test_dataloader(), strict=False):
            outputs = task.model(inputs)
            own += float(task.model.loss(outputs, targets)) * len(targets)
            cross_entropy += float(F.cross_entropy(outputs[0], targets)) * len(targets)
            count += len(targets)
    assert metrics["test/loss"] == pytest.approx(own / count, rel=1e-5)
    assert metrics["test/loss"] > cross_entropy / count
    # Predict and export get the prediction alone, not the tuple.
    probabilities = Predictor.load(best_checkpoint(cfg))(torch.rand(3, 64) * 16)
    assert probabilities.shape == (3, 10)

    # A configured loss next to the model's own would be silently unused: refused.
    with pytest.raises(ConfigError, match="computes its own loss"):
        cfg = make_cfg([*model, "loss=focal"])
        build_task(cfg, build_data(cfg.data))


def test_a_loss_of_the_wrong_kind_fails_before_the_run_writes(make_cfg):
    cfg = make_cfg(["loss=mse"])
    # A UserError: train.py prints its message as one `error:` line and exits 2.
    with pytest.raises(ConfigError) as error:
        train(cfg)
    assert str(error.value) == (
        "loss MSELoss is for regression data, but this data is classification; "
        "use loss=auto (the data's default) or a classification loss from configs/loss/"
    )
    assert not list(Path(cfg.paths.output_dir).iterdir())


def test_class_weights_that_do_not_fit_the_data_fail_before_the_run(make_cfg):
    cfg = make_cfg(["loss=cross_entropy", "loss.weight=[1.0,2.0,3.0]"])
    fails = r"loss CrossEntropyLoss fails on this data: RuntimeError.*10 classes"
    with pytest.raises(ConfigError, match=fails):
        build_task(cfg, build_data(cfg.data))


def test_bce_trains_multi_label_targets(make_cfg):
    """No bundled data has several labels per example: a tiny synthetic set whose labels are
    the signs of the first three inputs, through the multilabel task's default, bce."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(256, 1, 4, 4, generator=generator)
    targets = (inputs.flatten(1)[:, :3] > 0).float()
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=32)
    bce = to_container(make_cfg(["loss=bce", "loss.pos_weight=[1.0,2.0,1.0]"]).loss)
    task = task_class("multilabel")(
        model={"_target_": f"{MODULE}.mlp.MLP", "hidden_sizes": [16]},
        data={},
        optimizer={"_target_": "torch.optim.AdamW", "lr": 0.05},
        scheduler=None,
        input_shape=[1, 4, 4],
        num_outputs=3,
        loss=bce,
    )
    trainer = L.Trainer(
        max_epochs=5,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, loader, loader)
    (metrics,) = trainer.validate(task, loader, verbose=False)
    # Better than the best constant answer for each label.
    share = targets.mean(dim=0)
    assert metrics["val/acc"] > float(torch.maximum(share, 1 - share).mean())
    assert task.predict_step(inputs, 0).shape == targets.shape
