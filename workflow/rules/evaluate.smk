# Checkpoint evaluation: one job per checkpoint x benchmark x shots; one generation pass scored by every scorer.


def eval_inputs(wildcards):
    inputs = {"model": model_dir(wildcards), "eval_items": f"{R}/data/eval_{wildcards.bench}.jsonl"}
    if int(wildcards.shots) > 0:
        inputs["pool"] = f"{R}/data/fewshot_{wildcards.bench}.jsonl"
    return inputs


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        records=f"{R}/eval/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.records.jsonl",
        summary=f"{R}/eval/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.summary.json",
    log:
        f"{LOGS}/evaluate/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.tsv"
    params:
        passk=False,
    threads: threads_for("evaluate")
    resources:
        gpu=model_resource("evaluate", "gpus", 0),
        cpus_per_task=model_resource("evaluate", "cpus", 1),
        mem_mb=model_resource("evaluate", "mem_mb", 4000),
        runtime=model_resource("evaluate", "runtime", 30),
    script:
        "../scripts/evaluate.py"


use rule evaluate as evaluate_passk with:
    output:
        records=f"{R}/eval/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot_passk.records.jsonl",
        summary=f"{R}/eval/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot_passk.summary.json",
    log:
        f"{LOGS}/evaluate_passk/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.log",
    benchmark:
        f"{BENCH}/evaluate_passk/{{model}}/{{budget}}/step_{{step}}/{{bench}}_{{shots}}shot.tsv"
    params:
        passk=True,


def val_loss_inputs(wildcards):
    inputs = {"model": model_dir(wildcards)}
    src = config["val_loss"].get("source", "corpus")
    inputs["texts"] = f"{R}/data/pretrain_corpus.jsonl" if src == "corpus" else f"{R}/data/val_text.jsonl"
    return inputs


rule val_loss:
    input:
        unpack(val_loss_inputs),
    output:
        f"{R}/eval/{{model}}/{{budget}}/step_{{step}}/val_loss.json",
    log:
        f"{LOGS}/val_loss/{{model}}/{{budget}}/step_{{step}}.log",
    benchmark:
        f"{BENCH}/val_loss/{{model}}/{{budget}}/step_{{step}}.tsv"
    threads: threads_for("evaluate")
    resources:
        gpu=model_resource("val_loss", "gpus", 0),
        cpus_per_task=model_resource("val_loss", "cpus", 1),
        mem_mb=model_resource("val_loss", "mem_mb", 4000),
        runtime=model_resource("val_loss", "runtime", 30),
    script:
        "../scripts/val_loss.py"
