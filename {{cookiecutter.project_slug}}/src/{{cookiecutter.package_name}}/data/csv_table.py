"""Your own table: a CSV file with a header, feature columns and one target column."""

from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from ..utils.errors import ConfigError, DataError
from .base import DataModule
from .preprocessing import Affine
from .table_preprocessing import (
    TablePreprocessing,
    check_columns,
    encode_labels,
    is_numeric,
    label_names,
    read_csv,
)

KINDS = ("auto", "classification", "regression")


class CSVDataModule(DataModule):
    """Rows of a CSV file: ``features`` (default: every column but the target) in,
    ``target`` (default: the last column) out.

    ``kind: auto`` classifies when the target is text, or whole numbers with at most
    ``max_classes`` distinct values, and regresses otherwise. Features are standardised
    and missing ones filled with the mean, and regression targets standardised, all with
    statistics of the training rows only (``TablePreprocessing``).
    """

    def __init__(
        self,
        path: str | None = None,
        target: str | None = None,
        features: list[str] | None = None,
        kind: str = "auto",
        max_classes: int = 20,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        if path is None:
            raise ConfigError("data=csv needs data.path=<a .csv file with a header row>")
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"data.path={path} is not a file")
        if kind not in KINDS:
            raise ConfigError(f"data.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.target = target
        self.features = features
        self.kind_option = kind
        self.max_classes = max_classes
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        # The data rows (from 0) of each split, filled by build_splits.
        self.rows: dict[str, list[int]] = {}

    @cached_property
    def columns(self) -> dict[str, np.ndarray]:
        columns = read_csv(self.path)
        target = self.target_name(columns)
        names = self.features or [name for name in columns if name != target]
        check_columns(
            self.path,
            columns,
            [*names, target],
            numeric=names,
            hint="encode it as numbers or leave it out with data.features=[...]",
        )
        return {**{name: columns[name] for name in names}, target: columns[target]}

    def target_name(self, columns: dict[str, np.ndarray]) -> str:
        return self.target if self.target is not None else list(columns)[-1]

    @property
    def feature_names(self) -> list[str]:
        return list(self.columns)[:-1]

    @property
    def target_values(self) -> np.ndarray:
        return self.columns[self.target_name(self.columns)]

    @cached_property
    def kind(self) -> str:
        if self.kind_option != "auto":
            return self.kind_option
        target = self.target_values
        if not is_numeric(target):
            return "classification"
        whole = not np.isnan(target).any() and np.all(target == np.round(target))
        few = len(np.unique(target)) <= self.max_classes
        return "classification" if whole and few else "regression"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.feature_names),)

    @property
    def num_outputs(self) -> int:
        return len(self.class_names) if self.kind == "classification" else 1

    @cached_property
    def class_names(self) -> list[str] | None:
        return label_names(self.target_values) if self.kind == "classification" else None

    def fit_preprocessing(self, features: torch.Tensor, targets: torch.Tensor | None) -> None:
        """Statistics of the training rows: ``features`` and, for regression, ``targets``."""
        mean = features.nanmean(dim=0).nan_to_num(0.0)
        centred = torch.where(features.isnan(), mean, features) - mean
        std = centred.std(dim=0).nan_to_num(0.0)
        target = {}
        if targets is not None:
            target = {
                "target_mean": float(targets.mean()),
                "target_std": float(targets.std().clamp_min(1e-8)),
            }
        self.preprocessing = TablePreprocessing(
            kind=self.kind,
            features=self.feature_names,
            mean=mean.tolist(),
            std=torch.where(std > 0, std, 1.0).tolist(),
            target=self.target_name(self.columns),
            classes=self.class_names,
            **target,
        )

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        features = torch.tensor(
            np.stack([self.columns[name] for name in self.feature_names], axis=1),
            dtype=torch.float32,
        )
        train, val, test = (
            torch.from_numpy(part)
            for part in self.split_indices(
                len(features),
                self.val_fraction,
                self.test_fraction,
                self.split_seed,
                f"rows of {self.path}",
            )
        )
        self.rows = {"train": train.tolist(), "val": val.tolist(), "test": test.tolist()}
        if self.kind == "classification":
            self.fit_preprocessing(features[train], None)
            targets = torch.from_numpy(encode_labels(self.target_values, self.class_names))
        else:
            values = torch.tensor(self.target_values, dtype=torch.float32).unsqueeze(1)
            if values.isnan().any():
                raise DataError(f"the target column of {self.path} has missing values")
            self.fit_preprocessing(features[train], values[train])
        preprocessing = self.preprocessing
        assert isinstance(preprocessing, TablePreprocessing)
        with torch.no_grad():
            inputs = preprocessing.encode()(features)
            if self.kind == "regression":
                # The model learns standardised targets; decode() brings them back.
                targets = Affine.standardise(preprocessing.target_mean, preprocessing.target_std)(
                    values
                )
        return tuple(TensorDataset(inputs[part], targets[part]) for part in (train, val, test))

    def test_keys(self) -> tuple[list[str], list[int]]:
        self.splits  # noqa: B018 - the split decides the test rows
        return [self.path.name] * len(self.rows["test"]), list(self.rows["test"])
