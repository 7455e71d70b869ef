# Pre-training (the C_pretrain axis) and GRPO (the C_rl axis).


def pretrain_inputs(wildcards):
    if config["pretrain"]["backend"] == "transformers":
        return {"corpus": f"{R}/data/pretrain_corpus.jsonl", "tokenizer": f"{R}/tokenizer"}
    return {}


rule pretrain:
    input:
        unpack(pretrain_inputs),
    output:
        directory(f"{R}/models/{{model}}/{{budget}}/base"),
    log:
        f"{LOGS}/pretrain/{{model}}/{{budget}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{model}}/{{budget}}.tsv"
    threads: threads_for("pretrain")
    script:
        "../scripts/pretrain.py"


rule grpo:
    input:
        model=f"{R}/models/{{model}}/{{budget}}/base",
        train=f"{R}/data/rl_train.jsonl",
    output:
        directory(f"{R}/grpo/{{model}}/{{budget}}"),
    log:
        f"{LOGS}/grpo/{{model}}/{{budget}}.log",
    benchmark:
        f"{BENCH}/grpo/{{model}}/{{budget}}.tsv"
    threads: threads_for("grpo")
    resources:
        gpu=model_resource("grpo", "gpus", 0),
        cpus_per_task=model_resource("grpo", "cpus", 1),
        mem_mb=model_resource("grpo", "mem_mb", 4000),
        runtime=model_resource("grpo", "runtime", 60),
    script:
        "../scripts/grpo.py"
