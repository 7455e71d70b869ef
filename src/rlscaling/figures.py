"""Every figure of a study into one directory: the data figures (``rlscaling.plots``) and the fit figures
(``rlscaling.plots_fits``). Figures whose data or fit is absent are skipped with a logged reason."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .io import atomic_dir, read_json

log = logging.getLogger(__name__)


def make_all_figures(summary_csv, records_path, fits_json, out_dir, dpi: int = 200) -> list[Path]:
    """Draw all figures into ``out_dir`` (replaced atomically); returns the files written (PNG + SVG).

    ``dpi`` (dots per inch of the PNGs, config ``plots.dpi``) applies to every figure through matplotlib's
    ``savefig.dpi``."""
    import matplotlib

    with matplotlib.rc_context({"savefig.dpi": dpi}):
        return _draw(summary_csv, fits_json, out_dir)


def _draw(summary_csv, fits_json, out_dir) -> list[Path]:
    from .plots import plot_all
    from .plots_fits import plot_all_fits

    summary = pd.read_csv(summary_csv)
    fits = read_json(fits_json)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        written: list[Path] = []
        for name, paths in plot_all(summary, tmp).items():
            if not paths:
                log.info("figure %s skipped: its data is not in this study", name)
            written += paths
        written += plot_all_fits(fits, summary, tmp)
    return [out_dir / p.name for p in written]
