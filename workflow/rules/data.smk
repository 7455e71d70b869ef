# Dataset preparation: every split the study reads, as uniform JSONL records.


def dataset_names():
    names = ["rl_train"]
    for bench, spec in config["benchmarks"].items():
        names.append(f"eval_{bench}")
        if max(spec["shots"] + spec.get("shots_intermediate", [])) > 0:
            names.append(f"fewshot_{bench}")
    if config["pretrain"]["backend"] == "transformers":
        names.append("pretrain_corpus")
    if config.get("val_loss") and config["val_loss"].get("source", "corpus") != "corpus":
        names.append("val_text")
    return names


rule prepare_data:
    output:
        f"{R}/data/{{dataset}}.jsonl",
    log:
        f"{LOGS}/prepare_data/{{dataset}}.log",
    benchmark:
        f"{BENCH}/prepare_data/{{dataset}}.tsv"
    params:
        names=dataset_names(),
    threads: 1
    script:
        "../scripts/prepare_data.py"


rule train_tokenizer:
    input:
        f"{R}/data/pretrain_corpus.jsonl",
    output:
        directory(f"{R}/tokenizer"),
    log:
        f"{LOGS}/train_tokenizer.log",
    benchmark:
        f"{BENCH}/train_tokenizer.tsv"
    threads: 1
    script:
        "../scripts/train_tokenizer.py"
