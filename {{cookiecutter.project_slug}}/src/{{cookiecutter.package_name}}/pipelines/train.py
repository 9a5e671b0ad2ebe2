"""Fit, then test the best checkpoint; everything lands in the run folder."""

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.config import apply_overrides, command_line_overrides, load_config, save_config
from ..utils.console import print_config, print_results, silence_known_warnings
from ..utils.provenance import write_provenance
from ..utils.ranks import is_rank_zero
from ..utils.runs import point_latest

LAST_CHECKPOINT = "checkpoints/last.ckpt"


def prepare_run(cfg: DictConfig) -> tuple[DictConfig, Path, Path | None]:
    """The run's config, its folder, and the checkpoint to resume from (if any).

    A resumed run keeps the config it was started with; only values given on this
    command line change it.
    """
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    resume_from = None
    if cfg.get("resume"):
        resume_from = run_dir / LAST_CHECKPOINT
        if not resume_from.is_file():
            raise FileNotFoundError(
                f"{run_dir} has no {LAST_CHECKPOINT} to resume from; it stopped before its first "
                "checkpoint, so start a new run"
            )
        saved = load_config(run_dir)
        cfg = apply_overrides(saved, command_line_overrides(exclude={"resume"}))
        cfg.resume = None
    if is_rank_zero():
        if resume_from is None:
            save_config(cfg, run_dir)
            write_provenance(run_dir)
        point_latest(run_dir)
        print_config(cfg, save_to=run_dir / "config_tree.log")
    return cfg, run_dir, resume_from


def train(cfg: DictConfig) -> dict[str, float]:
    cfg, run_dir, resume_from = prepare_run(cfg)

    silence_known_warnings()
    import lightning as L

    from .build import build_data, build_task, build_trainer

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build_data(cfg.data)
    task = build_task(cfg, datamodule)
    trainer = build_trainer(cfg)
    trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)

    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.get("test"):
        results = trainer.test(
            task, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False
        )
        metrics.update({name: float(value) for name, value in results[0].items()})
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        print_results(
            "results",
            {name: value for name, value in metrics.items() if name.startswith(("val/", "test/"))},
            {
                "best checkpoint": best or "(none: no checkpoint callback)",
                "run folder": str(run_dir),
            },
        )
    return metrics
