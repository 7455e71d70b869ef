from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.report.seed_comparison import write_comparison  # noqa: E402

n = write_comparison(
    snakemake.input.summary,  # noqa: F821
    snakemake.input.published,  # noqa: F821
    script_settings(snakemake)["seed_comparison"],  # noqa: F821
    snakemake.output.comparison,  # noqa: F821
)
log.info("%d cells of this run match a published cell of the seed", n)
