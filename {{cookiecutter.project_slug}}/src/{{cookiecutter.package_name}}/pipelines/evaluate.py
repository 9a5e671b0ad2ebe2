"""Test a past run's checkpoint on its own data, as the run was configured."""

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..utils.console import print_results, silence_known_warnings
from ..utils.runs import point_latest, trained_run


def evaluate(cfg: DictConfig) -> dict[str, float]:
    run = trained_run(cfg)

    silence_known_warnings()
    import lightning as L
    from hydra.utils import instantiate

    from ..utils.callbacks import WriteTestPredictions
    from ..utils.channel_metrics import ChannelMetrics
    from ..utils.plot_callback import PlotCallback

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    task, datamodule = run.task_and_data()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    trainer = instantiate(
        cfg.trainer,
        logger=False,
        enable_model_summary=False,
        callbacks=[
            PlotCallback(str(out_dir / "plots")),
            WriteTestPredictions(out_dir),
            ChannelMetrics(out_dir),
        ],
    )
    results = trainer.test(task, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for name, value in results[0].items()}
    if trainer.is_global_zero:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        point_latest(cfg.paths.log_dir, cfg.task_name, out_dir)
        print_results(
            "evaluation", metrics, {"checkpoint": str(run.checkpoint), "results": str(out_dir)}
        )
    return metrics
