"""Every figure of a study into one directory: the data figures (``rlscaling.report.plots``) and the fit figures
(``rlscaling.report.plots.fits``). Figures whose data or fit is absent are skipped with a logged reason."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from rlscaling.io import atomic_dir, read_json

log = logging.getLogger(__name__)


def make_all_figures(
    summary_csv,
    records_path,
    fits_json,
    out_dir,
    dpi: int = 200,
    reward_mode: str | None = None,
    seed_comparison=None,
    variant: str = "reference",
) -> list[Path]:
    """Draw all figures into ``out_dir`` (replaced atomically); returns the files written (PNG + SVG).

    ``dpi`` (dots per inch of the PNGs, config ``plots.dpi``) applies to every figure through matplotlib's
    ``savefig.dpi``. The study figures show the seed means of the base models and of ``reward_mode``'s runs; the
    replicate and reward-mode figures show every seed and mode; all of them show the sweep variant ``variant``
    (``fit.variant``: the reference runs by default). The sweep figures (one per benchmark, when the study has sweep
    variants: :mod:`rlscaling.report.plots.variants`) show every variant. ``seed_comparison``
    (``results/seed_comparison.csv``, when the seed's published results are configured) adds the published points to
    the seed's gain-vs-size figure."""
    import matplotlib

    with matplotlib.rc_context({"savefig.dpi": dpi}):
        return _draw(summary_csv, fits_json, out_dir, reward_mode, seed_comparison, variant)


def _draw(summary_csv, fits_json, out_dir, reward_mode, seed_comparison=None, variant="reference") -> list[Path]:
    from rlscaling.analysis.views import reference_rows, study_view
    from rlscaling.report.plots import plot_all
    from rlscaling.report.plots.dimensions import plot_dimensions
    from rlscaling.report.plots.fits import plot_all_fits
    from rlscaling.report.plots.variants import plot_variants
    from rlscaling.report.seed_comparison import read_comparison

    every_variant = pd.read_csv(summary_csv)
    full = reference_rows(every_variant, variant)
    summary = study_view(full, reward_mode)
    fits = read_json(fits_json)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        written: list[Path] = []
        figures = {**plot_all(summary, tmp), **plot_dimensions(full, tmp), **plot_variants(every_variant, tmp)}
        for name, paths in figures.items():
            if not paths:
                log.info("figure %s skipped: its data is not in this study", name)
            written += paths
        comparison = None if seed_comparison is None else read_comparison(seed_comparison)
        written += plot_all_fits(fits, summary, tmp, seed_comparison=comparison)
    return [out_dir / p.name for p in written]
