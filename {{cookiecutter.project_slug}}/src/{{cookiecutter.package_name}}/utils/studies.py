"""The Optuna study behind ``hparams_search=optuna``: which one a search writes to, which
trial each job is, and which run folder holds the best trial.

Hand-written: hydra-optuna-sweeper logs the study's name and its best parameters, but
never tells a job which trial it is, so trial numbers and run folders cannot be matched,
and a best trial from an earlier search of the same study has no folder at all.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .console import console

# In each trial's run folder: the study and the trial number it ran.
TRIAL = "trial.json"
RUN_DIR = "run_dir"


def study_of(config: DictConfig) -> tuple[str, str] | None:
    """The study's name and storage when this multirun is an Optuna search."""
    sweeper = config.hydra.sweeper
    if "optuna" not in str(sweeper.get("_target_", "")):
        return None
    return str(sweeper.study_name), str(sweeper.storage)


def _load(name: str, storage: str) -> Any:
    import optuna  # a second to import: paid only by searches

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage)


def announce(name: str, storage: str) -> None:
    """Say whether the search starts a study or continues one, before its first trial."""
    import optuna

    summaries = optuna.get_all_study_summaries(storage)
    done = next((s.n_trials for s in summaries if s.study_name == name), None)
    if done is None:
        console.print(f"Optuna study [bold]{name}[/bold] (new) in {storage}", soft_wrap=True)
        return
    console.print(
        f"Optuna study [bold]{name}[/bold] in {storage} continues after its {done} trials "
        "(hydra.sweeper.study_name=<another name> starts a new one)",
        soft_wrap=True,
    )


def _running_trial(study: Any, overrides: Iterable[str]) -> Any:
    """The running trial whose sampled values are these overrides (the sweeper writes them
    as ``key=value``), or None."""
    from optuna.trial import TrialState

    given = {str(item) for item in overrides}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if {f"{key}={value}" for key, value in trial.params.items()} <= given:
            return trial
    return None


def trial_folder(storage: str, name: str, overrides: Iterable[str], job_num: int) -> str:
    """``hydra.sweep.subdir`` of a search: ``trial_<n>`` after the trial the job runs (a
    continued study's numbers go on from the last search's), the job's number otherwise."""
    trial = _running_trial(_load(name, storage), overrides)
    return f"trial_{trial.number}" if trial is not None else str(job_num)


def record_trial(name: str, storage: str, job_dir: Path, overrides: list[str]) -> None:
    """Tie the job's trial to its folder: ``trial.json`` in the folder, the folder in the
    trial (user attribute ``run_dir``), which the best trial's announcement reads."""
    study = _load(name, storage)
    trial = _running_trial(study, overrides)
    if trial is not None:
        study._storage.set_trial_user_attr(trial._trial_id, RUN_DIR, str(job_dir))
        (job_dir / TRIAL).write_text(json.dumps({"study": name, "trial": trial.number}) + "\n")


def trial_number(job_dir: Path) -> int | None:
    path = job_dir / TRIAL
    return json.loads(path.read_text())["trial"] if path.is_file() else None


def announce_best(name: str, storage: str) -> None:
    """The best trial of the whole study (this search's or an earlier one's) and its folder."""
    from optuna.trial import TrialState

    study = _load(name, storage)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return
    best = study.best_trial
    folder = best.user_attrs.get(RUN_DIR, "(run before trials were tied to folders)")
    console.print(
        f"[bold]best trial {best.number}[/bold] of study {name} (value {best.value:.4f}): {folder}",
        soft_wrap=True,
    )
