"""Synthetic multichannel sines: the sequence pipeline end to end, without files."""

import numpy as np

from .windows import Series, SeriesDataModule


class SineDataModule(SeriesDataModule):
    """Noisy sines with gaps of missing steps, forecast one step ahead.

    Each series mixes, per channel, a sine of random period (``min_period`` to
    ``max_period`` steps), amplitude and phase with Gaussian noise; ``gaps`` runs of up to
    ``max_gap`` steps are set to NaN so that interpolation has work to do. The data is
    fixed by ``generator_seed``, not by the run's seed.
    """

    kind = "regression"

    def __init__(
        self,
        num_series: int = 16,
        num_steps: int = 600,
        num_channels: int = 3,
        min_period: float = 20.0,
        max_period: float = 80.0,
        noise: float = 0.05,
        gaps: int = 4,
        max_gap: int = 6,
        generator_seed: int = 0,
        **options,
    ) -> None:
        super().__init__(**options)
        self.num_series = num_series
        self.num_steps = num_steps
        self.num_channels = num_channels
        self.min_period = min_period
        self.max_period = max_period
        self.noise = noise
        self.gaps = gaps
        self.max_gap = max_gap
        self.generator_seed = generator_seed

    def load_series(self) -> list[Series]:
        rng = np.random.default_rng(self.generator_seed)
        steps = np.arange(self.num_steps)[:, None]
        series = []
        for index in range(self.num_series):
            shape = (1, self.num_channels)
            period = rng.uniform(self.min_period, self.max_period, shape)
            amplitude = rng.uniform(0.5, 1.5, shape)
            phase = rng.uniform(0, 2 * np.pi, shape)
            values = amplitude * np.sin(2 * np.pi * steps / period + phase)
            values += rng.normal(0.0, self.noise, values.shape)
            for _ in range(self.gaps):
                start = rng.integers(0, self.num_steps - self.max_gap)
                channel = rng.integers(0, self.num_channels)
                values[start : start + rng.integers(1, self.max_gap + 1), channel] = np.nan
            name = f"sine-{index}"
            series.append(Series(name, values.astype(np.float32), source=name))
        return series

    @property
    def column_names(self) -> list[str]:
        # As a .npy file of these series names its columns: predict.py reads one directly.
        return [str(channel) for channel in range(self.num_channels)]
