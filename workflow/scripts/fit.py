from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from pathlib import Path  # noqa: E402

from rlscaling.analysis.views import primary_reward_mode  # noqa: E402
from rlscaling.fit import write_fits  # noqa: E402

settings = script_settings(snakemake)  # noqa: F821
written = write_fits(
    snakemake.input.summary,
    snakemake.input.records,
    settings["fit"],
    Path(snakemake.output.fits).parent,
    seed_table=snakemake.input.seed_table,
    reward_mode=primary_reward_mode(settings),
)  # noqa: F821
log.info("wrote %s", [str(p) for p in written])
