"""The held-out figure of the joint law: observed vs predicted accuracy for every held-out group.

Reads ``fits.json``'s ``joint_law.held_out`` (the chosen form, else the form with the lowest cross-validation
error when no law is identified): one panel per cross-validation scheme (leave-one-size-out, leave-one-budget-out),
one colour per held-out group; filled dots are the form's predictions of the group's points when fitted without
it, open circles the no-law baseline's (the mean of the other groups at the same RL step). Accuracy fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from .style import STYLE_RC, save_figure

SCHEME_TITLES = {"loso": "leave one size out", "lobo": "leave one budget out"}


def _title(joint: Mapping, held: Mapping) -> str:
    if held["chosen"]:
        return f"Held-out predictions of the chosen law {held['form']}"
    return f"NO LAW IDENTIFIED -- held-out predictions of the best form {held['form']}, for reference"


def _panel(ax, scheme: str, result: Mapping) -> None:
    groups = sorted(result["points"])
    colors = sns.color_palette("colorblind", max(1, len(groups)))
    values = []
    for color, group in zip(colors, groups):
        p = result["points"][group]
        ax.plot(p["observed"], p["predicted"], "o", color=color, ms=5, label=f"{group} (law)")
        ax.plot(p["observed"], p["baseline"], "o", mfc="none", color=color, ms=7, mew=1.2)
        values += [*p["observed"], *p["predicted"], *p["baseline"]]
    lo, hi = min(values) - 0.03, max(values) + 0.03
    ax.plot([lo, hi], [lo, hi], color="0.4", ls="--", lw=1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_title(
        f"{SCHEME_TITLES.get(scheme, scheme)}: RMSE law {result['rmse']:.3f}, no-law baseline "
        f"{result['baseline_rmse']:.3f}",
        fontsize=9,
    )
    ax.set_xlabel("observed accuracy (fraction)")
    ax.legend(fontsize=7, loc="upper left", title="held-out group", title_fontsize=7)


def plot_heldout(fits: Mapping, out_stem: Path) -> list[Path]:
    """Observed vs held-out-predicted accuracy (fractions) per scheme and held-out group; ``[<stem>.png, .svg]``.

    Without held-out predictions (no form could be cross-validated) the figure says why in words."""
    joint = fits.get("joint_law") or {}
    held = joint.get("held_out") or {}
    schemes = held.get("schemes") or {}
    with plt.rc_context(STYLE_RC):
        fig, axes = plt.subplots(1, max(1, len(schemes)), figsize=(5.2 * max(1, len(schemes)), 4.8), squeeze=False)
        if not schemes:
            why = joint.get("no_law_reason") or (joint.get("choice") or {}).get("reason") or "no joint law was fitted"
            axes[0, 0].text(0.5, 0.5, f"no held-out predictions:\n{why}"[:400], ha="center", va="center", wrap=True,
                            fontsize=8, transform=axes[0, 0].transAxes)  # fmt: skip
            axes[0, 0].set_axis_off()
        for ax, (scheme, result) in zip(axes[0], schemes.items()):
            _panel(ax, scheme, result)
        axes[0, 0].set_ylabel("predicted when held out (fraction)")
        if schemes:
            fig.suptitle(_title(joint, held) + "\nfilled: law; open: no-law baseline; dashed: perfect", fontsize=10)
        fig.tight_layout()
        return save_figure(fig, out_stem)
