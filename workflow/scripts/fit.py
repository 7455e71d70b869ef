from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from pathlib import Path  # noqa: E402

from rlscaling.cli import write_fits  # noqa: E402

cfg = snakemake.config  # noqa: F821
fit_cfg = {**(cfg.get("fit") or {}), "seed": cfg.get("fit", {}).get("seed", cfg.get("seed", 0))}
write_fits(snakemake.input.summary, snakemake.input.records, fit_cfg, Path(snakemake.output.fits).parent,  # noqa: F821
           seed_table=snakemake.params.seed_table)  # noqa: F821
