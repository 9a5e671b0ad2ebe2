import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset, TensorDataset

from .base import DataModule
from .image_preprocessing import DIGIT_CLASSES, DIGIT_SHAPE, DigitsPreprocessing


class DigitsDataModule(DataModule):
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, no download.

    The split is stratified and fixed by ``split_seed``, independent of the run's seed,
    so runs with different seeds are compared on the same test set.
    """

    kind = "classification"

    def __init__(
        self,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        **loader_options,
    ) -> None:
        super().__init__(**loader_options)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.test_indices: list[int] = []

    @property
    def input_shape(self) -> tuple[int, ...]:
        return DIGIT_SHAPE

    @property
    def num_outputs(self) -> int:
        return len(DIGIT_CLASSES)

    @property
    def class_names(self) -> list[str]:
        return DIGIT_CLASSES

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        self.preprocessing = DigitsPreprocessing()
        digits = load_digits()
        with torch.no_grad():
            images = self.preprocessing.encode()(
                torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)
            )
        labels = torch.tensor(digits.target, dtype=torch.long)
        indices = list(range(len(labels)))
        held_out = self.val_fraction + self.test_fraction
        train, rest = train_test_split(
            indices, test_size=held_out, stratify=labels, random_state=self.split_seed
        )
        val, test = train_test_split(
            rest,
            test_size=self.test_fraction / held_out,
            stratify=labels[rest],
            random_state=self.split_seed,
        )
        self.test_indices = test
        return tuple(TensorDataset(images[i], labels[i]) for i in (train, val, test))

    def test_keys(self) -> tuple[list[str], list[int]]:
        self.splits  # noqa: B018 - the split decides the test examples
        return ["digits"] * len(self.test_indices), list(self.test_indices)
