"""README's promise: a new model is one Python file plus one YAML file."""

import textwrap

import pytest

from {{ cookiecutter.package_name }}.pipelines.train import train

from .conftest import CONFIGS, PROJECT, SHORT_RUN, run_python

MODEL_FILE = PROJECT / "src" / "{{ cookiecutter.package_name }}" / "models" / "tiny_test_model.py"
CONFIG_FILE = CONFIGS / "model" / "tiny_test_model.yaml"


@pytest.fixture
def added_model():
    MODEL_FILE.write_text(
        textwrap.dedent(
            """
            import math

            from torch import nn


            class Tiny(nn.Module):
                def __init__(self, input_shape, num_outputs, width=16):
                    super().__init__()
                    self.net = nn.Sequential(
                        nn.Flatten(),
                        nn.Linear(math.prod(input_shape), width),
                        nn.ReLU(),
                        nn.Linear(width, num_outputs),
                    )

                def forward(self, x):
                    return self.net(x)
            """
        )
    )
    CONFIG_FILE.write_text("_target_: {{ cookiecutter.package_name }}.models.tiny_test_model.Tiny\nwidth: 8\n")
    try:
        yield "tiny_test_model"
    finally:
        MODEL_FILE.unlink(missing_ok=True)
        CONFIG_FILE.unlink(missing_ok=True)


def test_added_model_trains(make_cfg, added_model):
    metrics = train(make_cfg([f"model={added_model}", "model.width=12", *SHORT_RUN]))
    assert "test/acc" in metrics


@pytest.mark.slow  # a second pytest process: importing Lightning to collect takes ~10 s
def test_added_model_joins_the_model_by_data_tests_without_editing_one(added_model):
    """The tests read configs/model/: a new YAML there is trained on every data (that it
    can read), reloaded and exported, with no test naming it."""
    modules = ["tests/test_matrix.py", "tests/test_training.py", "tests/test_runs.py"]
    listed = run_python("-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *modules)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    for data in ("digits", "sine", "sequence", "mnist", "cifar10", "image_folder", "csv"):
        assert f"test_model_trains_on_every_data_it_reads[{added_model}-{data}]" in listed.stdout
    assert f"test_model_trains_and_checkpoint_reloads[{added_model}]" in listed.stdout
    assert f"test_export_matches_the_checkpoint[{added_model}]" in listed.stdout
