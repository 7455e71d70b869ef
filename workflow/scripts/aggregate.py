from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from rlscaling.aggregate import aggregate_study  # noqa: E402

inp = snakemake.input  # noqa: F821
summary = aggregate_study(
    snakemake.config, eval_summaries=list(inp.evals) + list(inp.passk), val_loss_files=list(inp.val_loss),  # noqa: F821
    grpo_dirs=list(inp.grpo), base_dirs=list(inp.base),
    summary_path=snakemake.output.summary, records_path=snakemake.output.records,  # noqa: F821
)
log.info("summary.csv: %d rows", len(summary))
