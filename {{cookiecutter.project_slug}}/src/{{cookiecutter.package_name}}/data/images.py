"""Image tensors for training: scaling, normalisation and standard augmentations.

Written with plain torch ops because torchvision is an optional extra; these few lines
are all the digit and CIFAR recipes need.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


def normalise(raw: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Pixels 0..255, ``(..., C, H, W)`` -> floats with the given per-channel mean and std."""
    shape = (-1, 1, 1)
    mean_ = torch.tensor(mean, dtype=torch.float32).view(shape)
    std_ = torch.tensor(std, dtype=torch.float32).view(shape)
    return (raw.float() / 255.0 - mean_) / std_


def augment(image: torch.Tensor, crop_padding: int, flip: bool) -> torch.Tensor:
    """Random crop of the original size from a zero-padded image, and a random mirror."""
    if crop_padding:
        _, height, width = image.shape
        padded = F.pad(image, (crop_padding,) * 4)
        top, left = torch.randint(0, 2 * crop_padding + 1, (2,)).tolist()
        image = padded[:, top : top + height, left : left + width]
    if flip and torch.rand(()) < 0.5:
        image = image.flip(-1)
    return image


class ImageDataset(Dataset):
    """``(image, label)`` pairs from uint8 images ``(N, C, H, W)``, kept as bytes in memory
    and normalised (and augmented, for training) one at a time."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: Sequence[float],
        std: Sequence[float],
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.images = images
        self.labels = labels
        self.mean = mean
        self.std = std
        self.crop_padding = crop_padding
        self.flip = flip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = augment(self.images[index].float(), self.crop_padding, self.flip)
        return normalise(image, self.mean, self.std), self.labels[index]
