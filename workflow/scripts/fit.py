from rlscaling.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from pathlib import Path  # noqa: E402

from rlscaling.fit import write_fits  # noqa: E402

written = write_fits(
    snakemake.input.summary,
    snakemake.input.records,
    script_settings(snakemake)["fit"],  # noqa: F821
    Path(snakemake.output.fits).parent,
    seed_table=snakemake.input.seed_table,
)  # noqa: F821
log.info("wrote %s", [str(p) for p in written])
