"""The NaN guard in-process and fast; tests/test_faults.py runs it as a user does (and DDP)."""

import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from {{ cookiecutter.package_name }}.pipelines.build import build_trainer
from {{ cookiecutter.package_name }}.utils.errors import NonFiniteLossError
from {{ cookiecutter.package_name }}.utils.nan_guard import StopOnNonFiniteLoss


class Diverging(L.LightningModule):
    """A linear model whose loss is ``bad`` from step ``after`` on."""

    def __init__(self, after: int, bad: float = math.nan) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.after, self.bad = after, bad

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        return loss * self.bad if self.global_step >= self.after else loss

    def validation_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(module: L.LightningModule, **trainer_options) -> L.Trainer:
    loader = DataLoader(TensorDataset(torch.randn(40, 2)), batch_size=2)  # 20 steps an epoch
    options = {"max_epochs": 2, "log_every_n_steps": 5, "num_sanity_val_steps": 0}
    trainer = L.Trainer(
        **{**options, **trainer_options},
        callbacks=[StopOnNonFiniteLoss()],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader, loader)
    return trainer


@pytest.mark.parametrize(
    ("after", "bad", "message"),
    [
        (7, math.nan, r"train/loss is nan in steps 5-9 \(epoch 0\)"),
        (24, math.inf, r"train/loss is inf in steps 20-24 \(epoch 1\)"),
    ],
)
def test_a_non_finite_loss_stops_at_the_next_logging_interval(after, bad, message):
    with pytest.raises(NonFiniteLossError, match=message):
        fit(Diverging(after, bad))


def test_a_non_finite_loss_stops_before_a_mid_epoch_validation():
    # Validation every 3 steps comes before the logging interval (5): it checks first.
    with pytest.raises(NonFiniteLossError, match=r"in steps 0-2 \(epoch 0\)"):
        fit(Diverging(after=2), val_check_interval=3)


def test_a_non_finite_loss_stops_at_the_end_of_a_shortened_epoch_without_validation():
    # The epoch ends after 7 of its batches, before the next logging interval, and no
    # validation checks first: the epoch's end does, before its checkpoints.
    with pytest.raises(NonFiniteLossError, match=r"in steps 5-6 \(epoch 0\)"):
        fit(Diverging(after=5), limit_train_batches=7, limit_val_batches=0)


def test_finite_losses_train_to_the_end():
    assert fit(Diverging(after=10**6)).global_step == 40


def test_the_guard_is_on_without_callbacks_and_off_with_nonfinite_loss_ignore(make_cfg):
    def guards(*overrides: str) -> int:
        trainer = build_trainer(make_cfg(overrides))
        parts = [part for c in trainer.callbacks for part in getattr(c, "parts", [c])]
        return sum(isinstance(part, StopOnNonFiniteLoss) for part in parts)

    assert guards() == 1
    assert guards("callbacks=none") == 1
    assert guards("nonfinite_loss=skip") == 0
    assert guards("nonfinite_loss=ignore") == 0
