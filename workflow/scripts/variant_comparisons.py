from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.analysis.variants import write_variant_comparisons  # noqa: E402

table = write_variant_comparisons(
    snakemake.input.records,  # noqa: F821
    script_settings(snakemake)["fit"],  # noqa: F821
    snakemake.output.comparisons,  # noqa: F821
)
log.info("%d paired comparisons of %d sweep variants", len(table), table["variant"].nunique())
