from rlscaling.jobs import setup

log = setup(snakemake)  # noqa: F821

from rlscaling import config as rc  # noqa: E402

cfg, wc = snakemake.config, snakemake.wildcards  # noqa: F821
spec = cfg["models"][wc.model]
tokens = rc.budgets(cfg, wc.model)[wc.budget]
pcfg = cfg["pretrain"]
if pcfg["backend"] == "hub":
    from rlscaling.hub import fetch_hub_model

    info = fetch_hub_model(spec["hf_id"], snakemake.output[0], n_params=spec["n_params"], tokens=tokens)  # noqa: F821
else:
    from rlscaling.io import read_jsonl
    from rlscaling.pretrain import pretrain

    corpus = read_jsonl(snakemake.input.corpus)  # noqa: F821
    info = pretrain(
        corpus=[r["text"] for r in corpus if r.get("split") == "train"],
        val_corpus=[r["text"] for r in corpus if r.get("split") == "validation"],
        tokenizer_dir=snakemake.input.tokenizer,  # noqa: F821
        arch=spec["arch"],
        tokens=tokens,
        out_dir=snakemake.output[0],  # noqa: F821
        seq_len=int(pcfg.get("seq_len", 256)),
        batch_size=int(pcfg.get("batch_size", 16)),
        lr=float(pcfg.get("lr", 3e-3)),
        warmup_fraction=float(pcfg.get("warmup_fraction", 0.05)),
        seed=int(cfg["seed"]) + rc.cells(cfg).index((wc.model, wc.budget)),
        threads=snakemake.threads,  # noqa: F821
    )
log.info("pre-trained %s/%s: %s", wc.model, wc.budget, info)
