"""Where the jobs of ``launcher=slurm`` write, said once in the submitting console: their
output goes to files on the cluster, not to the console that submitted them."""

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SlurmLogs(Callback):
    """configs/launcher/slurm.yaml registers it."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = config.hydra.sweep.dir
        print(
            f"SLURM jobs' output: {config.hydra.launcher.submitit_folder}/%j_<task>_log.out "
            f"and .err (%j: the job id squeue shows); each job's run folder, with its "
            f"train.log: {sweep_dir}/<job number>",
            flush=True,
        )
