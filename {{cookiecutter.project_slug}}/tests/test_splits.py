"""One seeded train/val/test split for every data option that draws one at random."""

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.data.base import DataModule
from {{ cookiecutter.package_name }}.data.csv_table import CSVDataModule
from {{ cookiecutter.package_name }}.utils.errors import DataError


def test_the_split_covers_every_example_once_in_the_fractions_asked():
    train, val, test = DataModule.split_indices(100, 0.1, 0.2, seed=3)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))


def test_the_split_depends_on_its_seed_alone():
    first, again, other = (DataModule.split_indices(50, seed=seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_every_part_gets_an_example_or_the_split_is_refused_in_one_line():
    assert [len(part) for part in DataModule.split_indices(3)] == [1, 1, 1]
    with pytest.raises(DataError, match=r"^2 rows of t\.csv are too few to split .*; add rows$"):
        DataModule.split_indices(2, what="rows of t.csv", hint="; add rows")


def test_a_table_is_split_by_the_helper(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    data = CSVDataModule(path=str(table), split_seed=5)
    data.splits  # noqa: B018 - builds the split
    train, val, test = DataModule.split_indices(40, 0.15, 0.15, seed=5)
    assert data.rows == {"train": train.tolist(), "val": val.tolist(), "test": test.tolist()}
