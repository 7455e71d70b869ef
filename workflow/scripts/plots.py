from rlscaling.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.figures import make_all_figures  # noqa: E402

written = make_all_figures(
    snakemake.input.summary,
    snakemake.input.records,
    snakemake.input.fits,  # noqa: F821
    snakemake.output[0],
    dpi=script_settings(snakemake)["plots"]["dpi"],
)  # noqa: F821
log.info("wrote %d figure files", len(written))
