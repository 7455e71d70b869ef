from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

import pandas as pd  # noqa: E402

from rlscaling.io import read_json  # noqa: E402
from rlscaling.report import write_summary_md  # noqa: E402

write_summary_md(
    pd.read_csv(snakemake.input.summary),
    snakemake.output[0],  # noqa: F821
    fits=read_json(snakemake.input.fits),
    records=pd.read_parquet(snakemake.input.records),
)  # noqa: F821
