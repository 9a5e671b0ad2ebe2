"""Test a past run's checkpoint on its own data, as the run was configured."""

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.console import print_results, silence_known_warnings
from ..utils.runs import find_run, point_latest

BEST_CHECKPOINT = "checkpoints/best.ckpt"


def checkpoint_to_evaluate(cfg: DictConfig) -> Path:
    if cfg.get("ckpt_path"):
        path = Path(cfg.ckpt_path)
        if not path.is_file():
            raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path} does not exist")
        return path
    run_dir = find_run(cfg.paths.log_dir, cfg.runs_of, cfg.run)
    path = run_dir / BEST_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no {BEST_CHECKPOINT}; pass ckpt_path=<file>")
    return path


def evaluate(cfg: DictConfig) -> dict[str, float]:
    checkpoint = checkpoint_to_evaluate(cfg)

    silence_known_warnings()
    import lightning as L
    from hydra.utils import instantiate

    from ..tasks import load_task
    from .build import build_data

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    task = load_task(checkpoint)
    datamodule = build_data(task.hparams.data)
    trainer = instantiate(cfg.trainer, logger=False, enable_model_summary=False)
    results = trainer.test(task, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for name, value in results[0].items()}
    if trainer.is_global_zero:
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        point_latest(out_dir)
        print_results(
            "evaluation", metrics, {"checkpoint": str(checkpoint), "results": str(out_dir)}
        )
    return metrics
