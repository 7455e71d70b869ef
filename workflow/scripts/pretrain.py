from rlscaling.workflow.jobs import script_settings, setup

log = setup(snakemake)  # noqa: F821

cfg, wc = script_settings(snakemake), snakemake.wildcards  # noqa: F821
spec, pcfg, out = cfg["models"][wc.model], cfg["pretrain"], snakemake.output[0]  # noqa: F821
if pcfg["backend"] == "hub":
    from rlscaling.models.hub import fetch_hub_model

    budget = cfg["budget"]
    info = fetch_hub_model(
        budget["hf_id"],
        out,
        tokens=budget["tokens"],
        revision=budget["revision"],
        annealed=budget["annealed"],
        n_params=spec.get("n_params"),
    )
else:
    from rlscaling.io import read_jsonl

    corpus = read_jsonl(snakemake.input.corpus)  # noqa: F821
    common = {
        "corpus": [r["text"] for r in corpus if r.get("split") == "train"],
        "val_corpus": [r["text"] for r in corpus if r.get("split") == "validation"],
        "tokenizer_dir": snakemake.input.tokenizer,  # noqa: F821
        "arch": spec["arch"],
        "out_dir": out,
        "seq_len": int(pcfg["seq_len"]),
        "batch_size": int(pcfg["batch_size"]),
        "lr": float(pcfg["lr"]),
        "warmup_fraction": float(pcfg["warmup_fraction"]),
        "seed": int(cfg["seed"]),
        "threads": snakemake.threads,  # noqa: F821
    }
    if pcfg["schedule"] == "cosine":
        from rlscaling.models.pretrain import pretrain

        info = pretrain(tokens=cfg["budget"]["tokens"], **common)
    elif "budget" not in cfg:  # the rule pretrain_trunk
        from rlscaling.models.pretrain_wsd import pretrain_trunk

        info = pretrain_trunk(branch_tokens=pcfg["budgets"], decay_fraction=pcfg["decay_fraction"], **common)
    else:
        from rlscaling.models.pretrain_wsd import pretrain_branch

        info = pretrain_branch(
            trunk_dir=snakemake.input.trunk,  # noqa: F821
            label=wc.budget,
            tokens=cfg["budget"]["tokens"],
            all_budgets=pcfg["budgets"],
            decay_fraction=pcfg["decay_fraction"],
            **common,
        )
log.info("pre-trained %s: %s", out, info)
