"""Whole batches from data held in memory: one indexing per tensor, rather than one
``__getitem__`` per example and a collate that stacks them (for the digits, a sixth of a
small model's step; see benchmark.py's loader figure)."""

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset


class BatchDataset(Dataset, ABC):
    """A dataset that hands the loader whole batches.

    torch's DataLoader calls ``__getitems__`` with the indices of a batch when a dataset
    has it; this one returns the batch collated already (``[inputs, targets]``, as the
    default collate would), and ``collated`` passes it through. Sampling, shuffling, DDP
    shards and workers are the loader's as for any dataset.
    """

    @abstractmethod
    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        """The examples at ``indices``, stacked."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(field[0] for field in self.__getitems__([index]))


class TensorBatches(TensorDataset, BatchDataset):
    """A ``TensorDataset`` indexed a batch at a time (``DataModule`` loaders use it for
    every plain ``TensorDataset``)."""

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        index = as_index(indices)
        return [tensor.index_select(0, index) for tensor in self.tensors]


def as_index(indices: list[int]) -> torch.Tensor:
    """``indices`` as a tensor, through numpy: a quarter of the time ``torch.as_tensor``
    takes on a list, which would be most of a batch's cost."""
    return torch.from_numpy(np.asarray(indices, dtype=np.int64))


def collated(batch: Any) -> Any:
    """The collate of a ``BatchDataset``: its batches arrive stacked."""
    return batch
