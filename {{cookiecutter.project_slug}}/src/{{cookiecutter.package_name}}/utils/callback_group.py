"""The engine's callbacks as one, so each step calls a hook once, not once per callback.

Hand-written: Lightning calls every hook of every callback on each step, each inside a
profiler context, whether the callback overrides it or not; with the engine's ten callbacks
that is about a tenth of a small model's step, and Lightning has no way to group callbacks.
"""

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import lightning as L

# Every hook Lightning calls on a callback, by the base class's own names.
HOOKS = tuple(
    name for name in vars(L.Callback) if name.startswith("on_") or name in ("setup", "teardown")
)


def _overrides(callback: L.Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(L.Callback, hook)


def _call_each(hooks: list[Callable[..., Any]], *args: Any, **kwargs: Any) -> None:
    for hook in hooks:
        hook(*args, **kwargs)


class CallbackGroup(L.Callback):
    """Forwards each hook only to the parts that override it; their states are saved and
    restored under each part's own ``state_key``."""

    def __init__(self, parts: Iterable[L.Callback]) -> None:
        self.parts = list(parts)
        for hook in HOOKS:
            takers = [getattr(part, hook) for part in self.parts if _overrides(part, hook)]
            if takers:
                setattr(self, hook, takers[0] if len(takers) == 1 else partial(_call_each, takers))

    def state_dict(self) -> dict[str, Any]:
        states = {part.state_key: part.state_dict() for part in self.parts}
        return {key: state for key, state in states.items() if state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for part in self.parts:
            if part.state_key in state_dict:
                part.load_state_dict(state_dict[part.state_key])
