from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

import pandas as pd  # noqa: E402

from rlscaling.analysis.variants import read_variant_comparisons  # noqa: E402
from rlscaling.analysis.views import primary_reward_mode, view_variant  # noqa: E402
from rlscaling.io import read_json  # noqa: E402
from rlscaling.report.seed_comparison import read_comparison  # noqa: E402
from rlscaling.report.summary import write_summary_md  # noqa: E402

comparison = snakemake.input.get("seed_comparison")  # noqa: F821 (only when report.published_results is set)
variants = snakemake.input.get("variant_comparisons")  # noqa: F821 (only when grpo.sweeps makes variants)
settings = script_settings(snakemake)  # noqa: F821
write_summary_md(
    pd.read_csv(snakemake.input.summary),
    snakemake.output.summary_md,  # noqa: F821
    fits=read_json(snakemake.input.fits),
    records=pd.read_parquet(snakemake.input.records),
    reward_mode=primary_reward_mode(settings),
    findings_path=snakemake.output.findings,  # noqa: F821
    seed_comparison=read_comparison(comparison) if comparison else None,
    variant=view_variant(settings),
    variant_comparisons=read_variant_comparisons(variants) if variants else None,
)  # noqa: F821
