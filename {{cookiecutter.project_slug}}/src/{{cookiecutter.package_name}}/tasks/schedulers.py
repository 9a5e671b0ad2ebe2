from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.05, min_lr_ratio: float = 0.0
) -> LRScheduler:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of the base rate.

    torch has both pieces but no single scheduler for the pair, hence this composition.
    """
    warmup = max(1, round(total_steps * warmup_fraction))
    base_lr = optimizer.param_groups[0]["lr"]
    return SequentialLR(
        optimizer,
        [
            LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup),
            CosineAnnealingLR(
                optimizer, T_max=max(1, total_steps - warmup), eta_min=base_lr * min_lr_ratio
            ),
        ],
        milestones=[warmup],
    )


# Scheduler state that counts progress through a plan rather than making it, or that
# repeats other settings: base_lrs the optimizer's lr, OneCycleLR's phases its total_steps.
PROGRESS = {
    "last_epoch",
    "_step_count",
    "_last_lr",
    "_get_lr_called_within_step",
    "_is_initial",
    "best",
    "num_bad_epochs",
    "cooldown_counter",
    "base_lrs",
    "_schedule_phases",
}


def plan_changes(saved: Any, planned: Any, name: str = "") -> list[str]:
    """Where saved settings (a config, a scheduler's state) and fresh ones differ, as
    ``name saved -> planned`` (``scheduler.T_max 30 -> 60`` when trainer.max_epochs grew)."""
    if isinstance(saved, dict) and isinstance(planned, dict):
        return [
            change
            for key in sorted(saved.keys() | planned.keys(), key=str)
            if key not in PROGRESS
            for change in plan_changes(saved.get(key), planned.get(key), f"{name}.{key}")
        ]
    if isinstance(saved, list) and isinstance(planned, list) and len(saved) == len(planned):
        return [
            change
            for index, pair in enumerate(zip(saved, planned, strict=True))
            for change in plan_changes(*pair, f"{name}[{index}]")
        ]
    if saved == planned:
        return []
    shown = [f"{value:g}" if isinstance(value, float) else str(value) for value in (saved, planned)]
    return [f"{name.lstrip('.')} {shown[0]} -> {shown[1]}"]
