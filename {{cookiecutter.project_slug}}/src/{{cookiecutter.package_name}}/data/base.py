from abc import ABC, abstractmethod
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..utils.errors import ConfigError, DataError
from .batches import BatchDataset, TensorBatches, collated
from .preprocessing import Preprocessing
from .sampling import EpochSampler


class DataModule(L.LightningDataModule, ABC):
    """Splits built once, loaders configured from ``configs/data``.

    ``batch_size`` is the global batch: under DDP each process loads its share. A plain
    ``TensorDataset`` split is loaded a whole batch at a time (``batches.py``).
    """

    kind: str = "classification"

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers and num_workers > 0
        self._splits: tuple[Dataset, Dataset, Dataset] | None = None
        # The training order's seed, kept in checkpoints: a resumed run shuffles alike.
        self.shuffle_seed: int | None = None
        # Set by ``build_splits``, fitted on the training split; travels in the checkpoint.
        self.preprocessing: Preprocessing | None = None

    @abstractmethod
    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        """Train, validation and test datasets of ``(input, target)`` pairs."""

    @staticmethod
    def split_indices(
        count: int,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        what: str = "examples",
        hint: str = "",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Train, validation and test indices of ``count`` examples, at random but fixed by
        ``seed`` rather than the run's seed, so runs with different seeds are compared on the
        same test set; each part gets at least one. ``what`` names the examples (``images of
        data/pets``) and ``hint`` adds advice when they are too few."""
        order = np.random.default_rng(seed).permutation(count)
        n_val = max(1, round(count * val_fraction))
        n_test = max(1, round(count * test_fraction))
        if count - n_val - n_test < 1:
            raise DataError(f"{count} {what} are too few to split into train, val and test{hint}")
        val, test, train = np.split(order, [n_val, n_val + n_test])
        return train, val, test

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, batch excluded."""

    @property
    @abstractmethod
    def num_outputs(self) -> int:
        """Classes for classification, predicted values for regression."""

    @property
    def class_names(self) -> list[str] | None:
        return None

    def test_keys(self) -> tuple[list[str], list[int]] | None:
        """Source and index of every test example, in test order, as ``Preprocessing.read``
        keys the same example when a user predicts on the file it came from; None (a
        DataModule of your own that keys nothing) writes no ``test_predictions.csv``."""
        return None

    @property
    def fitted_preprocessing(self) -> Preprocessing:
        self.splits  # noqa: B018 - building the splits fits the preprocessing
        assert self.preprocessing is not None, f"{type(self).__name__} set no preprocessing"
        return self.preprocessing

    @property
    def splits(self) -> tuple[Dataset, Dataset, Dataset]:
        if self._splits is None:
            self._splits = self.build_splits()
        return self._splits

    def setup(self, stage: str | None = None) -> None:
        self.splits  # noqa: B018 - builds the splits once, on every process

    @property
    def per_device_batch_size(self) -> int:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        if self.batch_size % world_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} does not divide across {world_size} "
                "processes; choose a multiple of the number of devices"
            )
        return self.batch_size // world_size

    def state_dict(self) -> dict[str, Any]:
        return {} if self.shuffle_seed is None else {"shuffle_seed": self.shuffle_seed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.shuffle_seed = state_dict.get("shuffle_seed", self.shuffle_seed)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        if type(dataset) is TensorDataset:
            dataset = TensorBatches(*dataset.tensors)
        sampler = self._train_sampler(dataset) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=self.per_device_batch_size,
            sampler=sampler,
            generator=sampler.generator if sampler else None,
            collate_fn=collated if isinstance(dataset, BatchDataset) else None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )

    def _train_sampler(self, dataset: Dataset) -> EpochSampler:
        trainer = self.trainer
        if self.shuffle_seed is None:
            # The run's seed (or the one torch drew without one), process 0's under DDP.
            seed = torch.initial_seed() % 2**62
            self.shuffle_seed = int(trainer.strategy.broadcast(seed)) if trainer else seed
        skip = 0
        if trainer is not None and trainer.fit_loop.restarting:
            # Resumed mid-epoch: Lightning carries on after the batches already trained.
            done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            skip = done * self.per_device_batch_size
        return EpochSampler(
            dataset,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            seed=self.shuffle_seed,
            epoch=trainer.current_epoch if trainer else 0,
            skip=skip,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.splits[0], shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.splits[1], shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.splits[2], shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
