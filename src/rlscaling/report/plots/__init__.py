"""Every data figure of the study, drawn from ``results/summary.csv`` (fit figures: ``rlscaling.report.plots.fits``).

Each ``plot_xxx(summary, out_stem)`` writes ``<out_stem>.png`` and ``<out_stem>.svg`` atomically and returns
the written paths, or ``[]`` (with a logged reason) when the summary lacks the rows the figure needs.
Conventions shared by all figures:

* a *model* is a ``(model, pretrain_tokens)`` pair; its label adds the budget (``tiny-l · 6e5 tok``) only
  when the size was pre-trained on several budgets (:func:`rlscaling.labels.model_index`);
* one colour per model size (darker = more parameters); a smaller pre-training budget of the same size is
  a lighter shade of that colour (:mod:`.style`);
* "base" is ``rl_step == 0``, "after RL" the largest ``rl_step`` of that model; in line plots base is
  solid with circles and after-RL dashed with squares, in bar plots base is a hatched light bar;
* accuracies are plotted in percent with 95% bootstrap CIs (``ci_low``/``ci_high``) as error bars.

Modules: :mod:`.style` (colours, :func:`save_figure`), :mod:`.layout` (row selection, axes), :mod:`.lines`
(accuracy vs shots / k / RL), :mod:`.bars` (before/after bars), :mod:`.loss` (validation loss).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rlscaling.labels import (  # noqa: F401  (re-exported for figure code and tests)
    MAJ_AT_N,
    PASS_AT_K,
    format_params,
    format_tokens,
)
from rlscaling.schemas import SUMMARY_COLUMNS, validate_summary  # noqa: F401
from rlscaling.tasks import default_scorers

from .bars import plot_cross_model, plot_math_by_subject
from .lines import plot_accuracy_vs_rl, plot_accuracy_vs_shots, plot_pass_at_k
from .loss import plot_validation_loss
from .style import (  # noqa: F401
    DETERMINISTIC_METADATA,
    FIGURE_DPI,
    STAGE_STYLE,
    model_table,
    save_figure,
)


def plot_all(summary: pd.DataFrame, out_dir: str | Path) -> dict[str, list[Path]]:
    """Draw every figure into ``out_dir``; maps figure name (= file stem) to the files written ([] = skipped)."""
    out_dir = Path(out_dir)
    figures: dict[str, list[Path]] = {
        "accuracy_vs_shots": plot_accuracy_vs_shots(summary, out_dir / "accuracy_vs_shots"),
        "math_by_subject": plot_math_by_subject(summary, out_dir / "math_by_subject"),
    }
    for benchmark in default_scorers():
        name = f"cross_model_{benchmark}"
        figures[name] = plot_cross_model(summary, out_dir / name, benchmark=benchmark)
    figures["validation_loss"] = plot_validation_loss(summary, out_dir / "validation_loss")
    figures["pass_at_k"] = plot_pass_at_k(summary, out_dir / "pass_at_k")
    figures["accuracy_vs_rl"] = plot_accuracy_vs_rl(summary, out_dir / "accuracy_vs_rl")
    return figures
