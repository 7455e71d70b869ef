"""Colours, markers and line styles of the data figures, and the project's one figure writer (:func:`save_figure`).

Colours: one per model size along viridis (darker = more parameters); a smaller pre-training budget of the same
size is a lighter shade of that colour. Base (RL step 0) is solid with circles, after RL dashed with squares.
Scorer colours are the scorers' own (:func:`rlscaling.tasks.scorer_color`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from rlscaling.io import atomic_path  # noqa: E402
from rlscaling.labels import model_index  # noqa: E402
from rlscaling.schemas import validate_summary  # noqa: E402

log = logging.getLogger(__name__)

STAGE_STYLE = {
    "base": {"linestyle": "-", "marker": "o"},
    "final": {"linestyle": "--", "marker": "s"},
}
BUDGET_MARKERS = ("o", "s", "^", "D", "v", "P")
FIGURE_DPI = 200  # PNG dots per inch unless matplotlib's savefig.dpi is set
STYLE_RC = {
    "svg.hashsalt": "rlscaling",  # deterministic SVG ids: reruns give byte-identical figures
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
}


def size_colors(sizes: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per model size along viridis, light-green (smallest) to dark purple (largest)."""
    cmap = plt.get_cmap("viridis")
    points = np.linspace(0.78, 0.05, len(sizes)) if len(sizes) > 1 else [0.35]
    return {size: tuple(cmap(p)[:3]) for size, p in zip(sizes, points, strict=True)}


def tint(color, amount: float) -> tuple[float, float, float]:
    """Mix ``color`` with white; ``amount`` 0 keeps it, 1 gives white."""
    rgb = np.array(mcolors.to_rgb(color))
    return tuple(rgb + (1.0 - rgb) * amount)


def model_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`rlscaling.labels.model_index` (one row per ``(model, pretrain_tokens)``, ordered by size then budget)
    plus ``color`` (RGB tuple; size colour, lighter for a smaller budget of the same size) and ``budget_marker``."""
    models = model_index(summary)
    size_color = size_colors(list(dict.fromkeys(models["model"])))
    budgets_per_size = models.groupby("model")["pretrain_tokens"].transform("nunique")
    budget_rank = models.groupby("model")["pretrain_tokens"].rank(method="dense", ascending=False) - 1
    models["color"] = [
        tint(size_color[m], 0.5 * r / max(nb - 1, 1))
        for m, r, nb in zip(models["model"], budget_rank, budgets_per_size, strict=True)
    ]
    models["budget_marker"] = [
        BUDGET_MARKERS[int(i) % len(BUDGET_MARKERS)]
        for i in models["pretrain_tokens"].rank(method="dense").astype(int) - 1
    ]
    return models


# no creation date or software version in the files, so the same data gives byte-identical figures
DETERMINISTIC_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def save_figure(fig, out_stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``<out_stem>.png`` and ``<out_stem>.svg`` atomically; close it; return the paths.

    The one figure writer of the project (data and fit figures). PNG resolution: matplotlib's ``savefig.dpi`` when
    set (``rlscaling.report.figures.make_all_figures`` sets it from ``plots.dpi``), else :data:`FIGURE_DPI`; no metadata
    that changes between runs, and fixed SVG ids."""
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    dpi = plt.rcParams["savefig.dpi"]
    dpi = FIGURE_DPI if dpi == "figure" else dpi
    written = []
    try:
        with plt.rc_context({"svg.hashsalt": "rlscaling"}):
            for ext in ("png", "svg"):
                path = out_stem.with_name(f"{out_stem.name}.{ext}")
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata=DETERMINISTIC_METADATA[ext])
                written.append(path)
    finally:
        plt.close(fig)
    return written


def finish(fig, out_stem: Path, suptitle: str | None = None) -> list[Path]:
    """Title the figure (``suptitle``), lay it out tightly and write it with :func:`save_figure`."""
    if suptitle is not None:
        fig.suptitle(suptitle, y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def figure_function(func: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Validate the summary, apply the shared style and close any figure left open by an error."""

    @functools.wraps(func)
    def wrapper(summary: pd.DataFrame, out_stem: str | Path, **kwargs) -> list[Path]:
        summary = validate_summary(summary)
        before = set(plt.get_fignums())
        try:
            with sns.axes_style("whitegrid"), plt.rc_context(STYLE_RC):
                return func(summary, Path(out_stem), **kwargs)
        finally:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)

    return wrapper


def skip(figure: str, reason: str) -> list[Path]:
    log.info("figure %s skipped: %s", figure, reason)
    return []
