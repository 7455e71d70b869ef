# Shared helpers: results paths, per-job settings, per-backend environments, threads and resources.
# (Each backend-bound job's interpreter, $RLSCALING_JOB_PYTHON_<NAME>, is exported by the Snakefile.)
R = rs.results_dir(config)
# logs and benchmark files: named by each rule, read by no job (not in rlscaling.study.PATHS)
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"


def path(key, **fixed):
    """A rule's results path pattern from the one table, rlscaling.study.PATHS: ``path("dataset")`` is
    ``results/data/{dataset}.jsonl``; ``fixed`` fills fields in, the others stay Snakemake wildcards."""
    return rs.pattern(config, key, **fixed)


def settings(rule_name):
    """params: the job's resolved settings as canonical JSON, from the wildcards only (so Snakemake records them and
    reruns the job when any of them changes)."""
    return lambda wildcards: rj.job_settings_json(config, rule_name, **dict(wildcards.items()))


def conda_env(rule_name):
    """The conda environment file of the backend that runs a rule (used with --software-deployment-method conda)."""
    return os.path.join(workflow.basedir, conda_env_file(config, backend_of(config, rule_name)))


def threads_for(rule_name):
    t = config["threads"]
    return int(t.get(rule_name, t["default"]))


def model_resource(rule_name, key, default):
    """Per-model resources (production: GPUs by size) from models.<model>.resources.<rule>.<key> (rs.resources; the
    GPUs through rs.job_gpus, the one reader of a job's GPUs)."""

    def _get(wildcards):
        model = wildcards.model if hasattr(wildcards, "model") else rp.parse_checkpoint_id(wildcards.checkpoint)[0]
        if key == "gpus":
            return rs.job_gpus(config, model, rule_name, default)
        return rs.resources(config, model, rule_name).get(key, default)

    return _get


def model_dir(ckpt):
    """Directory holding a checkpoint (an ``rp.Checkpoint``): the base model, or the GRPO run of its reward mode."""
    if ckpt.reward == rs.BASE:
        return rs.path(config, "base_model", model=ckpt.model, seed=ckpt.seed, budget=ckpt.budget)
    return rs.path(
        config, "grpo", model=ckpt.model, seed=ckpt.seed, budget=ckpt.budget, reward=ckpt.reward, variant=ckpt.variant
    )


# ---- input functions of the rules


def local_data_inputs(wildcards):
    """The local files (jsonl: sources) a dataset's preparation reads, absolute (resolved against the workflow directory
    by the Snakefile): editing one reruns that preparation and what reads it."""
    return rl.local_files(config, wildcards.dataset)


def pretrain_inputs(wildcards):
    if config["pretrain"]["backend"] == "transformers":
        return {"corpus": path("dataset", dataset="pretrain_corpus"), "tokenizer": path("tokenizer")}
    return {}


def base_model_inputs(wildcards):
    """A base model's inputs: the corpus and tokenizer, plus its (model, seed) trunk under the WSD schedule."""
    inputs = pretrain_inputs(wildcards)
    if config["pretrain"]["schedule"] == "wsd":
        inputs["trunk"] = rs.path(config, "trunk", model=wildcards.model, seed=wildcards.seed)
    return inputs


def grpo_train_inputs(wildcards):
    """A GRPO run's training set: its variant's prepared file(s), one per set it joins (rs.run_train), in order;
    one file (the reference set's for every variant but a train one) as a plain path."""
    names = rs.run_train(config, wildcards.variant)
    files = [rs.path(config, "dataset", dataset=rs.train_dataset(config, n)) for n in names]
    return files[0] if len(files) == 1 else files


def eval_inputs(plan):
    items = rp.eval_plan(config, plan)

    def _inputs(wildcards):
        inputs = {"model": model_dir(rp.parse_checkpoint_id(wildcards.checkpoint))}
        for it in items:
            inputs[f"eval_{it.bench}"] = path("dataset", dataset=f"eval_{it.bench}")
            if it.shots > 0:
                inputs[f"fewshot_{it.bench}"] = path("dataset", dataset=f"fewshot_{it.bench}")
        return inputs

    return _inputs


def eval_outputs(plan):
    return [
        path("eval_output", stem=it.stem, ext=ext) for it in rp.eval_plan(config, plan) for ext in rs.EVAL_EXTENSIONS
    ]


def eval_dir(wildcards):
    return rs.path(config, "eval_dir", checkpoint=wildcards.checkpoint)


def val_loss_inputs(wildcards):
    src = config["val_loss"]["source"]
    return {
        "model": rs.path(config, "base_model", **dict(wildcards.items())),
        "texts": path("dataset", dataset="pretrain_corpus" if src == "corpus" else "val_text"),
    }


def aggregate_inputs(wildcards):
    """Every evaluation, of the reference runs and of every sweep variant (the summary's variant column)."""
    ev = [rs.path(config, "eval_summary", **vars(j)) for j in rp.eval_jobs(config)]
    pk = [rs.path(config, "passk_summary", **vars(j)) for j in rp.passk_jobs(config)]
    vl = [rs.path(config, "val_loss", **c._asdict()) for c in rp.val_loss_jobs(config)]
    return {
        "evals": ev,
        "passk": pk,
        "val_loss": vl,
        "grpo": [rs.path(config, "grpo", **r._asdict()) for r in rs.rl_runs(config)],
        "base": [rs.path(config, "base_model", **c._asdict()) for c in rs.cells(config)],
    }


def seed_comparison_inputs(wildcards):
    """This run's summary and the seed's published table (report.published_results): editing either reruns the
    comparison and what reads it."""
    return {"summary": path("summary"), "published": rs.published_results_path(config)}


def published_inputs(wildcards):
    """The seed comparison for the report tables and the figures, when report.published_results is set."""
    return {"seed_comparison": path("seed_comparison")} if rs.published_results_path(config) else {}


def variant_inputs(wildcards):
    """The sweep variants' paired comparisons for the report tables (summary.md's Sweeps section), when the study has
    sweep variants (grpo.sweeps)."""
    return {"variant_comparisons": path("variant_comparisons")} if rs.has_variants(config) else {}
