"""Two small plots for the notebooks and reports: curves (loss, gradient norm) and bars
(the perplexity table). Each saves a PNG and returns its path.

Figures are drawn on matplotlib's Agg canvas without pyplot, so importing this module never
changes the backend of a notebook; show a saved plot with ``IPython.display.Image(path)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=100)
    return path


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                path: str | Path, title: str = "", xlabel: str = "", ylabel: str = "",
                logy: bool = False) -> Path:
    """One line per entry of ``curves``: label -> (steps, values), steps and values of equal
    length. ``logy`` puts the y axis on a log scale (gradient norms, perplexities)."""
    fig = Figure(figsize=(6, 4), layout="tight")
    ax = fig.add_subplot()
    for label, (steps, values) in curves.items():
        if len(steps) != len(values):
            raise ValueError(f"curve {label!r}: {len(steps)} steps but {len(values)} values")
        ax.plot(steps, values, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if curves:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_bars(values: Mapping[str, float], path: str | Path, title: str = "",
              ylabel: str = "", logy: bool = False) -> Path:
    """One bar per entry of ``values`` (label -> height), each labelled with its value."""
    fig = Figure(figsize=(max(4.0, 0.9 * len(values) + 2), 4), layout="tight")
    ax = fig.add_subplot()
    bars = ax.bar(list(values), list(values.values()))
    ax.bar_label(bars, fmt="%.4g")
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, ylabel=ylabel)
    ax.tick_params(axis="x", labelrotation=30)
    return _save(fig, path)
