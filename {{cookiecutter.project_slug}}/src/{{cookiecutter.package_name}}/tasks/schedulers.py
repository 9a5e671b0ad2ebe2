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
