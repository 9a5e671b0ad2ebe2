"""The engine's callbacks grouped as one: every hook still reaches them, states round-trip."""

import lightning as L

from {{ cookiecutter.package_name }}.utils.callback_group import CallbackGroup


class Counter(L.Callback):
    def __init__(self, key: str) -> None:
        self.key, self.batches = key, 0

    @property
    def state_key(self) -> str:
        return self.key

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1

    def state_dict(self):
        return {"batches": self.batches}

    def load_state_dict(self, state_dict):
        self.batches = state_dict["batches"]


class Quiet(L.Callback):
    pass


def test_a_hook_reaches_only_the_parts_that_override_it_and_states_round_trip():
    first, second = Counter("first"), Counter("second")
    group = CallbackGroup([first, Quiet(), second])
    group.on_train_batch_end(None, None, None, None, 0)
    assert first.batches == second.batches == 1
    # A hook no part overrides stays Lightning's own no-op.
    assert type(group).on_validation_batch_end is L.Callback.on_validation_batch_end
    assert "on_validation_batch_end" not in vars(group)

    restored_first, restored_second = Counter("first"), Counter("second")
    CallbackGroup([restored_first, restored_second]).load_state_dict(group.state_dict())
    assert restored_first.batches == restored_second.batches == 1
