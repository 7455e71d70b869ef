from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from rlscaling.training.run import run_grpo_job  # noqa: E402

wc = snakemake.wildcards  # noqa: F821
info = run_grpo_job(
    snakemake.config, wc.model, wc.budget,  # noqa: F821
    model_dir=snakemake.input.model, train_path=snakemake.input.train,  # noqa: F821
    out_dir=snakemake.output[0], threads=snakemake.threads,  # noqa: F821
)
log.info("GRPO %s/%s done: %s", wc.model, wc.budget, info)
