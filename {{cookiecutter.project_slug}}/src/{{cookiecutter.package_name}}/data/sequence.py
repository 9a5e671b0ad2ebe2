"""Your own time series: a folder (or one file) of CSV, NPY or BVH recordings."""

from pathlib import Path

from ..utils.errors import ConfigError, DataError
from .recordings import SUFFIXES, Recording, read_recording
from .table_preprocessing import check_columns
from .windows import Series, SeriesDataModule


class SequenceDataModule(SeriesDataModule):
    """Multichannel series from files, one recording per file, through the sequence pipeline.

    ``channels`` picks the input columns (CSV header names, NPY column indices, BVH
    ``<joint>_<channel>`` names); by default every numeric column but the label. With a
    ``label_column`` each window is classified by its most frequent label; without one the
    task is forecasting the step after the window.
    """

    def __init__(
        self,
        path: str | None = None,
        channels: list[str | int] | None = None,
        label_column: str | int | None = None,
        **options,
    ) -> None:
        super().__init__(**options)
        if path is None:
            raise ConfigError(
                "data=sequence needs data.path=<a folder or file of .csv, .npy or .bvh series>"
            )
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"data.path={path} does not exist")
        self.channels = None if channels is None else [str(c) for c in channels]
        self.label_column = None if label_column is None else str(label_column)
        self.channel_names: list[str] = []
        self.roots: set[str | None] = set()

    @property
    def kind(self) -> str:
        # Decided by the config alone: knowing the kind reads no file.
        return "regression" if self.label_column is None else "classification"

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in SUFFIXES)
        if not files:
            raise DataError(f"{self.path} holds no {', '.join(SUFFIXES)} files")
        return files

    def load_series(self) -> list[Series]:
        series = []
        for path in self.files():
            recording = read_recording(path)
            columns = recording.columns
            names = self.channels or [name for name in columns if name != self.label_column]
            if series and names != self.channel_names:
                raise DataError(
                    f"{path} has channels {names}, but {series[0].name} has "
                    f"{self.channel_names}; choose common ones with data.channels=[...]"
                )
            self.channel_names = names
            self.roots.add(recording.root)
            series.append(self.to_series(path, recording, names))
        return series

    @property
    def column_names(self) -> list[str]:
        self.series  # noqa: B018 - reading the files names the columns
        return self.channel_names

    @property
    def root_columns(self) -> list[str]:
        """The BVH ROOT joint's channels among the columns (none in CSV or NPY): where the
        body is in the room and which way it faces."""
        self.series  # noqa: B018 - the files name their root
        return [
            name
            for name in self.channel_names
            if any(root and name.startswith(f"{root}_") for root in self.roots)
        ]

    def to_series(self, path: Path, recording: Recording, names: list[str]) -> Series:
        wanted = [*names, *([self.label_column] if self.label_column else [])]
        columns = recording.columns
        check_columns(
            path,
            columns,
            wanted,
            numeric=names,
            hint="choose the inputs with data.channels=[...] or name it as data.label_column",
        )
        values = recording.stack(names)
        labels = columns[self.label_column] if self.label_column else None
        return Series(str(path), values, labels, path.name, sampling_rate=recording.sampling_rate)
