"""README's promise: a new model is one Python file plus one YAML file."""

import textwrap

import pytest

from {{ cookiecutter.package_name }}.pipelines.train import train

from .conftest import CONFIGS, PROJECT, SHORT_RUN

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
