"""What the user reads: the config tree at start and the results table at the end."""

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.measure import Measurement
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

console = Console()


def config_tree(cfg: DictConfig) -> Tree:
    tree = Tree("config", guide_style="dim")
    for key, value in cfg.items():
        branch = tree.add(f"[bold]{key}")
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        branch.add(Syntax(text.rstrip(), "yaml", theme="ansi_dark"))
    return tree


def print_config(cfg: DictConfig, save_to: Path | None = None) -> None:
    """Print the resolved config as a tree, and keep the same text in the run folder."""
    tree = config_tree(cfg)
    console.print(tree)
    if save_to is not None:
        save_config_tree(cfg, save_to, tree)


def save_config_tree(cfg: DictConfig, path: Path, tree: Tree | None = None) -> None:
    with path.open("w") as file:
        Console(file=file, width=120, color_system=None).print(tree or config_tree(cfg))


def print_results(title: str, metrics: Mapping[str, float], notes: Mapping[str, str]) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    for label, text in notes.items():
        console.print(f"[bold]{label}:[/bold] {text}", soft_wrap=True)


def print_wide(table: Table) -> None:
    """``table`` as wide as its cells need: past a narrow terminal's width (which then wraps
    the lines) rather than cutting the values a reader compares."""
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    # print(width=) can only narrow a console; a console of that width can widen.
    Console(width=max(console.width, needed)).print(table)


def silence_known_warnings() -> None:
    """Hide warnings no user can act on."""
    # Lightning 2.6 still builds torch's deprecated LeafSpec on every step.
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
    # We log per epoch on purpose; small datasets have fewer batches than the interval.
    warnings.filterwarnings("ignore", r".*smaller than the logging interval")
    # Lightning advertises its cloud services ("Tip: ... litlogger") on every run.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_an_advert)


def _not_an_advert(record: logging.LogRecord) -> bool:
    return "💡 Tip:" not in record.getMessage()
