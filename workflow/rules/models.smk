# Pre-training (the C_pretrain axis) and GRPO (the C_rl axis).


# WSD (pretrain.schedule: wsd): one constant-LR trunk per (model, seed), saving a resumable state where each budget's
# annealed branch leaves it; with the cosine schedule each base model is its own run from scratch.
rule pretrain_trunk:
    input:
        unpack(pretrain_inputs),
    output:
        directory(path("trunk")),
    log:
        f"{LOGS}/pretrain_trunk/{{model}}/seed_{{seed}}.log",
    benchmark:
        f"{BENCH}/pretrain_trunk/{{model}}/seed_{{seed}}.tsv"
    conda:
        conda_env("pretrain")
    threads: threads_for("pretrain")
    params:
        settings=settings("pretrain_trunk"),
    script:
        "../scripts/pretrain.py"


rule pretrain:
    input:
        unpack(base_model_inputs),
    output:
        directory(path("base_model")),
    log:
        f"{LOGS}/pretrain/{{model}}/seed_{{seed}}/{{budget}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{model}}/seed_{{seed}}/{{budget}}.tsv"
    conda:
        conda_env("pretrain")
    threads: threads_for("pretrain")
    params:
        settings=settings("pretrain"),
    script:
        "../scripts/pretrain.py"


# verl's FSDP checkpoints live in params.state, outside the output: Snakemake deletes a failed job's outputs before
# it retries it, and the state lets the retry resume from the last complete checkpoint (deleted once the run has
# finished). The state records the run's settings: a job with other settings discards it and starts fresh
# (rlscaling.training.verl_state).
rule grpo:
    input:
        model=path("base_model"),
        train=grpo_train_inputs,
    output:
        directory(path("grpo")),
    log:
        f"{LOGS}/grpo/{{model}}/seed_{{seed}}/{{budget}}/{{variant}}{{reward}}.log",
    benchmark:
        f"{BENCH}/grpo/{{model}}/seed_{{seed}}/{{budget}}/{{variant}}{{reward}}.tsv"
    conda:
        conda_env("grpo")
    threads: threads_for("grpo")
    resources:
        gpu=model_resource("grpo", "gpus", 0),
        nodes=1,
        cpus_per_task=model_resource("grpo", "cpus", 1),
        mem_mb=model_resource("grpo", "mem_mb", 4000),
        runtime=model_resource("grpo", "runtime", 60),
    params:
        settings=settings("grpo"),
        state=lambda wildcards: rs.path(config, "grpo_state", **dict(wildcards.items())),
    shell:
        "$RLSCALING_JOB_PYTHON_GRPO -m rlscaling.workflow.jobs grpo --settings {params.settings:q} --threads {threads}"
        " model={input.model:q} train={input.train:q} out={output:q} state={params.state:q} > {log:q} 2>&1"
