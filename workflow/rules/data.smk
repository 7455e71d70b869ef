# Dataset preparation: every split the study reads, as uniform JSONL records.


rule prepare_data:
    input:
        local_data_inputs,
    output:
        path("dataset"),
    log:
        f"{LOGS}/prepare_data/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare_data/{{dataset}}.tsv"
    conda:
        conda_env("prepare_data")
    threads: 1
    params:
        settings=settings("prepare_data"),
    script:
        "../scripts/prepare_data.py"


rule train_tokenizer:
    input:
        path("dataset", dataset="pretrain_corpus"),
    output:
        directory(path("tokenizer")),
    log:
        f"{LOGS}/train_tokenizer.log",
    benchmark:
        f"{BENCH}/train_tokenizer.tsv"
    conda:
        conda_env("train_tokenizer")
    threads: 1
    params:
        settings=settings("train_tokenizer"),
    script:
        "../scripts/train_tokenizer.py"
