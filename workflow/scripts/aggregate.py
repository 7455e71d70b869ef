from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

from rlscaling.analysis.aggregate import aggregate_study  # noqa: E402

inp = snakemake.input  # noqa: F821
summary = aggregate_study(
    script_settings(snakemake),
    eval_summaries=list(inp.evals) + list(inp.passk),  # noqa: F821
    val_loss_files=list(inp.val_loss),
    grpo_dirs=list(inp.grpo),
    base_dirs=list(inp.base),
    summary_path=snakemake.output.summary,
    records_path=snakemake.output.records,  # noqa: F821
)
log.info("summary.csv: %d rows", len(summary))
