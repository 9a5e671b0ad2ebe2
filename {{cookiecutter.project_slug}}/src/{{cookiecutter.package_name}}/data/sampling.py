"""The training order: a function of the seed and the epoch, so a resumed run sees the
same batches as an uninterrupted one."""

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, DistributedSampler


class EpochSampler(DistributedSampler):
    """Shuffles each epoch from ``seed + epoch`` alone, in one process as under DDP.

    PyTorch's default shuffling draws from the global random generator each time Lightning
    creates an iterator, and a resumed fit creates one more than an uninterrupted fit does,
    so the two would shuffle differently. This order, and the generator of the loader's
    worker seeds (``generator``), depend on nothing else. ``skip`` leaves out the first
    examples of epoch ``epoch``: those a run resumed in that epoch already trained on.
    """

    def __init__(
        self, dataset: Dataset, num_replicas: int, rank: int, seed: int, epoch: int, skip: int
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.generator = torch.Generator()
        self.skip = {epoch: skip}
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.generator.manual_seed(self.seed + epoch)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.skip.pop(self.epoch, 0) :])
