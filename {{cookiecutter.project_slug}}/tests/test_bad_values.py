"""Bad values end in one line on the user's path: ``python train.py ...`` (and eval, predict,
export) exits with code 2 and one ``error:`` line, no traceback, no new run folder, and
``latest`` where it was."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import SHORT_RUN, run_python
from .datafiles import sines, write_bvh, write_csv_series, write_table

Case = tuple[list[str], str]


def run_folders(log_dir: Path) -> set[Path]:
    return set(log_dir.glob("*/runs/*"))


def latest_links(log_dir: Path) -> dict[Path, Path]:
    return {link: link.resolve() for link in log_dir.glob("*/latest")}


def check_one_line(log_dir: Path, args: list[str], message: str) -> None:
    """Run ``python <args>``; assert it fails in one line containing ``message`` and leaves
    the run folders and ``latest`` links under ``log_dir`` as they were."""
    folders, links = run_folders(log_dir), latest_links(log_dir)
    result = run_python(*args, f"paths.log_dir={log_dir}")
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert message in errors[0], errors[0]
    assert "Traceback" not in result.stderr
    assert run_folders(log_dir) == folders, "a run folder was left behind"
    assert latest_links(log_dir) == links, "latest moved"


@pytest.fixture
def earlier_run(tmp_path: Path) -> Path:
    """A log folder holding one earlier run that ``latest`` points at; no training needed."""
    log_dir = tmp_path / "logs"
    run = log_dir / "train" / "runs" / "2000-01-01_00-00-00"
    (run / "checkpoints").mkdir(parents=True)
    (log_dir / "train" / "latest").symlink_to(Path("runs") / run.name)
    return log_dir


CONFIG_CASES: dict[str, Case] = {
    "batch size 0": (["data.batch_size=0"], "data.batch_size=0 must be an integer >= 1"),
    "negative lr": (["optimizer.lr=-1"], "optimizer.lr=-1 must be a number > 0"),
    "dropout 2": (["model.dropout=2"], "model.dropout=2 must be a number >= 0 and < 1"),
    "hidden sizes text": (
        ["model.hidden_sizes=abc"],
        "model.hidden_sizes='abc' must be a list of integers >= 1",
    ),
    "negative hidden size": (
        ["model.hidden_sizes=[-4]"],
        "model.hidden_sizes=[-4] must be a list of integers >= 1",
    ),
    "max epochs -5": (
        ["trainer.max_epochs=-5"],
        "trainer.max_epochs=-5 must be an integer >= -1 (-1: no limit)",
    ),
    "endless epochs under a cosine schedule": (
        ["trainer.max_epochs=-1"],
        "scheduler.scheduler.T_max=-1 must be an integer >= 1 (the cosine schedule's epochs",
    ),
    "unknown key keeps did-you-mean": (
        ["trainer.max_epoch=3"],
        "unknown config key 'trainer.max_epoch'; did you mean trainer.max_epochs?",
    ),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_config_value_fails_in_one_line_before_any_write(earlier_run, case):
    overrides, message = CONFIG_CASES[case]
    check_one_line(earlier_run, ["train.py", *overrides], message)


USER_MODELS = '''
from torch import nn


class Conv2D(nn.Module):
    """A 2-D CNN that unpacks (C, H, W) when it is built."""

    def __init__(self, input_shape, num_outputs):
        super().__init__()
        channels, height, width = input_shape
        self.conv = nn.Conv2d(channels, num_outputs, 3)


class Conv2DForward(nn.Module):
    """A 2-D CNN that builds for any shape and fails in its first forward pass."""

    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], 8, 3, padding=1)
        self.head = nn.Linear(8, num_outputs)

    def forward(self, x):
        return self.head(self.conv(x).mean((-2, -1)))


class WrongOutputs(nn.Module):
    """Reads any input but gives one value per example, whatever the data needs."""

    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.head = nn.LazyLinear(1)

    def forward(self, x):
        return self.head(x.flatten(1))
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Broken data files and user models (configs/model/*.yaml beside their module)."""
    root = tmp_path_factory.mktemp("bad_files")
    bvh = write_bvh(root / "take.bvh", sines(120, 9, seed=0, gaps=False)).read_text()
    lines = bvh.splitlines()
    frame_3 = lines.index("Frame Time: 0.033333") + 3
    lines[frame_3] = lines[frame_3].replace(lines[frame_3].split()[4], "1.2.3", 1)
    (root / "bad_number.bvh").write_text("\n".join(lines) + "\n")
    (root / "bad_frames.bvh").write_text(bvh.replace("Frames: 120", "Frames: 12O"))
    (root / "latin1.bvh").write_bytes(bvh.replace("Spine", "Rücken").encode("latin-1"))
    csv_text = write_csv_series(root / "take.csv", sines(120, 3, seed=0)).read_text()
    (root / "latin1.csv").write_bytes(csv_text.replace("ch1", "Höhe").encode("latin-1"))
    table = write_table(root / "table.csv").read_text()
    (root / "latin1_table.csv").write_bytes(table.replace("depth", "Tiefe°").encode("latin-1"))
    np.save(root / "whole.npy", sines(120, 3, seed=0))
    (root / "truncated.npy").write_bytes((root / "whole.npy").read_bytes()[:1000])
    np.save(root / "objects.npy", np.array([[1.0, None, "a"]] * 120, dtype=object))
    np.save(root / "digits.npy", np.zeros((4, 64)))
    np.save(root / "digits_text.npy", np.full((4, 64), "0.5"))
    (root / "digits_truncated.npy").write_bytes((root / "digits.npy").read_bytes()[:300])
    (root / "models").mkdir()
    (root / "models" / "usermodels.py").write_text(USER_MODELS)
    for name, target in [
        ("conv2d", "Conv2D"),
        ("conv2d_forward", "Conv2DForward"),
        ("wrong_outputs", "WrongOutputs"),
    ]:
        config = root / "configs" / "model" / f"{name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"_target_: usermodels.{target}\n")
    return root


SEQUENCE = ["train.py", "data=sequence", "data.split=time"]
USER_MODEL = ["train.py", "data=sine", "hydra.searchpath=[file://{files}/configs]"]

# Arguments and the expected message, with {files} standing for the files fixture.
DATA_CASES: dict[str, Case] = {
    "bvh bad number": (
        [*SEQUENCE, "data.path={files}/bad_number.bvh"],
        "bad_number.bvh: frame 3 has '1.2.3' where a number belongs",
    ),
    "bvh bad frames line": (
        [*SEQUENCE, "data.path={files}/bad_frames.bvh"],
        "bad_frames.bvh: 'Frames:' must be a whole number, got '12O'",
    ),
    "bvh not utf-8": (
        [*SEQUENCE, "data.path={files}/latin1.bvh"],
        "latin1.bvh is not UTF-8 text (byte 0xfc on line 6); save it as UTF-8",
    ),
    "csv series not utf-8": (
        [*SEQUENCE, "data.path={files}/latin1.csv"],
        "latin1.csv is not UTF-8 text (byte 0xf6 on line 1)",
    ),
    "csv table not utf-8": (
        ["train.py", "data=csv", "data.path={files}/latin1_table.csv"],
        "latin1_table.csv is not UTF-8 text (byte 0xb0 on line 1)",
    ),
    "npy series truncated": (
        [*SEQUENCE, "data.path={files}/truncated.npy"],
        "truncated.npy is not a readable .npy file (Failed to read all data",
    ),
    "npy series of objects": (
        [*SEQUENCE, "data.path={files}/objects.npy"],
        "objects.npy is not a readable .npy file (Object arrays cannot be loaded",
    ),
    "npy given to data=csv": (
        ["train.py", "data=csv", "data.path={files}/truncated.npy"],
        "truncated.npy is not UTF-8 text",
    ),
    "optimizer refuses a value": (
        ["train.py", "+optimizer.betas=[2,0.9]"],
        "optimizer adamw refuses its config: ValueError: Invalid beta parameter at index 0: 2",
    ),
    "user model fails to build": (
        [*USER_MODEL, "model=conv2d"],
        "model conv2d cannot be built for data sine (inputs of shape (32, 3), 3 outputs): "
        "ValueError at {files}/models/usermodels.py:10: not enough values to unpack",
    ),
    "user model fails in forward": (
        [*USER_MODEL, "model=conv2d_forward"],
        "model conv2d_forward cannot read data sine: a batch of shape (2, 32, 3) fails in its "
        "forward pass with RuntimeError at {files}/models/usermodels.py:23: ",
    ),
    "user model gives the wrong outputs": (
        [*USER_MODEL, "model=wrong_outputs"],
        "model wrong_outputs cannot read data sine: a batch of shape (2, 32, 3) gives outputs "
        "of shape (2, 1), not (2, 3)",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_data_or_model_fails_in_one_line_before_any_write(
    earlier_run, files, monkeypatch, case
):
    monkeypatch.syspath_prepend(str(files / "models"))  # the subprocess imports usermodels
    args, message = DATA_CASES[case]
    check_one_line(
        earlier_run, [arg.format(files=files) for arg in args], message.format(files=files)
    )


@pytest.fixture(scope="module")
def broken(tmp_path_factory, files) -> dict[str, Path]:
    """A log folder with one short finished training run, and damaged checkpoints: an empty
    and a truncated copy of its best.ckpt, and two copies of the run with such a last.ckpt."""
    root = tmp_path_factory.mktemp("trained")
    log_dir = root / "logs"
    result = run_python("train.py", *SHORT_RUN, f"paths.log_dir={log_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    run = (log_dir / "train" / "latest").resolve()
    for name, keep in [("empty", 0), ("truncated", 5000)]:
        checkpoint = (run / "checkpoints" / "best.ckpt").read_bytes()[:keep]
        (root / f"{name}.ckpt").write_bytes(checkpoint)
        copy = shutil.copytree(run, run.parent / f"{name}_last")
        (copy / "checkpoints" / "last.ckpt").write_bytes(checkpoint)
    return {"log_dir": log_dir, "tmp": root, "files": files}


# {tmp}: the folder of empty.ckpt and truncated.ckpt; {log_dir}: the trained run's logs.
CHECKPOINT_CASES: dict[str, Case] = {
    "eval empty checkpoint": (
        ["eval.py", "ckpt_path={tmp}/empty.ckpt"],
        "{tmp}/empty.ckpt is not a readable checkpoint (truncated or corrupt: it is empty)",
    ),
    "eval truncated checkpoint": (
        ["eval.py", "ckpt_path={tmp}/truncated.ckpt"],
        "{tmp}/truncated.ckpt is not a readable checkpoint (truncated or corrupt: ",
    ),
    "predict empty checkpoint": (
        ["predict.py", "ckpt_path={tmp}/empty.ckpt", "input={files}/digits.npy"],
        "{tmp}/empty.ckpt is not a readable checkpoint (truncated or corrupt: it is empty)",
    ),
    "export truncated checkpoint": (
        ["export.py", "ckpt_path={tmp}/truncated.ckpt", "format=torchscript"],
        "{tmp}/truncated.ckpt is not a readable checkpoint (truncated or corrupt: ",
    ),
    "resume from an empty last.ckpt": (
        ["train.py", "resume={log_dir}/train/runs/empty_last"],
        "empty_last/checkpoints/last.ckpt is not a readable checkpoint (truncated or corrupt: "
        "it is empty)",
    ),
    "resume from a truncated last.ckpt": (
        ["train.py", "resume={log_dir}/train/runs/truncated_last"],
        "truncated_last/checkpoints/last.ckpt is not a readable checkpoint",
    ),
    "predict truncated input": (
        ["predict.py", "input={files}/digits_truncated.npy"],
        "digits_truncated.npy is not a readable .npy file (",
    ),
    "predict input of text": (
        ["predict.py", "input={files}/digits_text.npy"],
        "digits_text.npy holds <U3 values, not numbers",
    ),
    "predict input of objects": (
        ["predict.py", "input={files}/objects.npy"],
        "objects.npy is not a readable .npy file (Object arrays cannot be loaded",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_bad_checkpoint_or_input_fails_in_one_line_and_writes_nothing(broken, case):
    args, message = CHECKPOINT_CASES[case]
    check_one_line(
        broken["log_dir"], [arg.format(**broken) for arg in args], message.format(**broken)
    )
