from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from rlscaling.evaluation.run import evaluate_job  # noqa: E402

wc, inp = snakemake.wildcards, snakemake.input  # noqa: F821
summary = evaluate_job(
    snakemake.config, model_dir=inp.model, step=int(wc.step), bench=wc.bench, shots=int(wc.shots),  # noqa: F821
    items_path=inp.eval_items, pool_path=inp.get("pool"), records_path=snakemake.output.records,  # noqa: F821
    summary_path=snakemake.output.summary, passk=bool(snakemake.params.passk), threads=snakemake.threads,  # noqa: F821
)
log.info("%s", summary)
