from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from rlscaling.evaluation.run import val_loss_job  # noqa: E402

wc = snakemake.wildcards  # noqa: F821
out = val_loss_job(snakemake.config, model_dir=snakemake.input.model, step=int(wc.step),  # noqa: F821
                   texts_path=snakemake.input.texts, out_path=snakemake.output[0], threads=snakemake.threads)  # noqa: F821
log.info("%s", out)
