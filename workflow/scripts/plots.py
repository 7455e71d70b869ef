from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.analysis.views import primary_reward_mode, view_variant  # noqa: E402
from rlscaling.report.figures import make_all_figures  # noqa: E402

settings = script_settings(snakemake)  # noqa: F821
written = make_all_figures(
    snakemake.input.summary,
    snakemake.input.records,
    snakemake.input.fits,  # noqa: F821
    snakemake.output[0],
    dpi=settings["plots"]["dpi"],
    reward_mode=primary_reward_mode(settings),
    seed_comparison=snakemake.input.get("seed_comparison"),  # noqa: F821
    variant=view_variant(settings),
)  # noqa: F821
log.info("wrote %d figure files", len(written))
