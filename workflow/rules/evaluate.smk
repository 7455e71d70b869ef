# Checkpoint evaluation: one job per checkpoint evaluates all its benchmarks, shot counts and pass@k samples with one
# model load (one vLLM engine start); every file it writes is a target of its own. Base models and final
# checkpoints get the `endpoint` plan (every shot count, pass@k), the others the `intermediate` plan.


EVALUATE = (
    "$RLSCALING_JOB_PYTHON_EVALUATE -m rlscaling.workflow.jobs evaluate --settings {params.settings:q} --threads {threads}"
    " model={input.model:q} data={params.data:q} checkpoint={wildcards.checkpoint} out={params.out:q} > {log:q} 2>&1"
)


# One definition, one rule per plan named by rlscaling.workflow.plan.EVAL_RULES (evaluate_endpoint, evaluate_intermediate: the
# names job settings, backends and profiles use): each writes its plan's files and matches only its plan's checkpoints.
for plan in rp.PLANS:

    rule:
        name:
            rp.EVAL_RULES[plan]
        input:
            unpack(eval_inputs(plan)),
        output:
            eval_outputs(plan),
        log:
            f"{LOGS}/evaluate/{{checkpoint}}.log",
        benchmark:
            f"{BENCH}/evaluate/{{checkpoint}}.tsv"
        wildcard_constraints:
            checkpoint=rp.checkpoint_regex(config, plan),
        conda:
            conda_env(rp.EVAL_RULES[plan])
        threads: threads_for("evaluate")
        resources:
            gpu=model_resource("evaluate", "gpus", 0),
            nodes=1,
            cpus_per_task=model_resource("evaluate", "cpus", 1),
            mem_mb=model_resource("evaluate", "mem_mb", 4000),
            runtime=model_resource("evaluate", "runtime", 30),
        params:
            settings=settings(rp.EVAL_RULES[plan]),
            data=path("data_dir"),
            out=eval_dir,
        shell:
            EVALUATE


rule val_loss:
    input:
        unpack(val_loss_inputs),
    output:
        path("val_loss"),
    log:
        f"{LOGS}/val_loss/{{model}}/seed_{{seed}}/{{budget}}.log",
    benchmark:
        f"{BENCH}/val_loss/{{model}}/seed_{{seed}}/{{budget}}.tsv"
    conda:
        conda_env("val_loss")
    threads: threads_for("evaluate")
    resources:
        gpu=model_resource("val_loss", "gpus", 0),
        nodes=1,
        cpus_per_task=model_resource("val_loss", "cpus", 1),
        mem_mb=model_resource("val_loss", "mem_mb", 4000),
        runtime=model_resource("val_loss", "runtime", 30),
    params:
        settings=settings("val_loss"),
    shell:
        "$RLSCALING_JOB_PYTHON_VAL_LOSS -m rlscaling.workflow.jobs val_loss --settings {params.settings:q} --threads {threads}"
        " model={input.model:q} texts={input.texts:q} step=0 out={output:q} > {log:q} 2>&1"
