from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.data.prepare import prepare_dataset  # noqa: E402
from rlscaling.io import write_jsonl  # noqa: E402

name = snakemake.wildcards.dataset  # noqa: F821
rows = prepare_dataset(script_settings(snakemake), name)  # noqa: F821
write_jsonl(snakemake.output[0], rows)  # noqa: F821
log.info("wrote %d records of %s to %s", len(rows), name, snakemake.output[0])  # noqa: F821
