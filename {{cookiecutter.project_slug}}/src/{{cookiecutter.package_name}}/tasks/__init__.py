"""The engine: LightningModules that train any model in ``models/``.

The data's ``task`` attribute picks the LightningModule, so a model never says how it is
trained and the same model trains on any data of a compatible kind.
"""

from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class

from .base import Task
from .classification import ClassificationTask

TASKS: dict[str, type[Task]] = {"classification": ClassificationTask}


def task_class(kind: str) -> type[Task]:
    if kind not in TASKS:
        raise ValueError(f"no task trains {kind!r} data; known kinds: {', '.join(TASKS)}")
    return TASKS[kind]


def load_task(checkpoint_path: str | Path, map_location: str = "cpu") -> Task:
    """Rebuild a task and its model from a checkpoint alone, without unpickling code."""
    checkpoint: dict[str, Any] = torch.load(
        checkpoint_path, map_location=map_location, weights_only=True
    )
    hparams = checkpoint["hyper_parameters"]
    kind = get_class(hparams["data"]["_target_"]).task
    task = task_class(kind)(**hparams)
    task.load_state_dict(checkpoint["state_dict"])
    return task
