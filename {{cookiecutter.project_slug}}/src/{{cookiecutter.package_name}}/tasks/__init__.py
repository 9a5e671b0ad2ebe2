"""The engine: LightningModules that train any model in ``models/``.

The data's ``kind`` attribute picks the LightningModule, so a model never says how it is
trained and the same model trains on any data of a compatible kind.
"""

from pathlib import Path

import torch

from ..utils.checkpoint_reader import read_checkpoint, weights_error
from .base import TASK_KIND, Task
from .classification import ClassificationTask
from .multilabel import MultilabelTask
from .regression import RegressionTask

TASKS: dict[str, type[Task]] = {
    task.kind: task for task in (ClassificationTask, MultilabelTask, RegressionTask)
}


def task_class(kind: str) -> type[Task]:
    if kind not in TASKS:
        raise ValueError(f"no task trains {kind!r} data; known kinds: {', '.join(TASKS)}")
    return TASKS[kind]


def load_task(checkpoint_path: str | Path, map_location: str | torch.device = "cpu") -> Task:
    """Rebuild a task and its model from a checkpoint alone, without unpickling code."""
    checkpoint = read_checkpoint(checkpoint_path, map_location)
    hparams = checkpoint["hyper_parameters"]
    task = task_class(checkpoint[TASK_KIND])(**hparams)
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise weights_error(checkpoint_path, hparams, error) from error
    return task.to(map_location)
