from rlscaling.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

cfg, wc = script_settings(snakemake), snakemake.wildcards  # noqa: F821
spec, budget, pcfg = cfg["models"][wc.model], cfg["budget"], cfg["pretrain"]
if pcfg["backend"] == "hub":
    from rlscaling.hub import fetch_hub_model

    info = fetch_hub_model(
        budget["hf_id"],
        snakemake.output[0],
        tokens=budget["tokens"],  # noqa: F821
        revision=budget["revision"],
        annealed=budget["annealed"],
        n_params=spec.get("n_params"),
    )
else:
    from rlscaling.io import read_jsonl
    from rlscaling.pretrain import pretrain

    corpus = read_jsonl(snakemake.input.corpus)  # noqa: F821
    info = pretrain(
        corpus=[r["text"] for r in corpus if r.get("split") == "train"],
        val_corpus=[r["text"] for r in corpus if r.get("split") == "validation"],
        tokenizer_dir=snakemake.input.tokenizer,  # noqa: F821
        arch=spec["arch"],
        tokens=budget["tokens"],
        out_dir=snakemake.output[0],  # noqa: F821
        seq_len=int(pcfg["seq_len"]),
        batch_size=int(pcfg["batch_size"]),
        lr=float(pcfg["lr"]),
        warmup_fraction=float(pcfg["warmup_fraction"]),
        seed=int(cfg["seed"]),
        threads=snakemake.threads,  # noqa: F821
    )
log.info("pre-trained %s/%s: %s", wc.model, wc.budget, info)
