"""What the launchers (train.py, eval.py, ...) run once Hydra has composed the config."""
