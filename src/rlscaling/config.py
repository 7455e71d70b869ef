"""Workflow configuration: loading, validation, and what the config implies (cells, checkpoints, targets).

The Snakefile validates the raw config against ``workflow/schemas/config.schema.yaml``; the functions here turn
it into the job list. They are pure so that tests can compute, from a config alone, how many jobs a dry run must
show.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

# Output path patterns, relative to the results directory.
PATHS = {
    "dataset": "data/{dataset}.jsonl",
    "tokenizer": "tokenizer",
    "base_model": "models/{model}/{budget}/base",
    "grpo": "grpo/{model}/{budget}",
    "eval_records": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot.records.jsonl",
    "eval_summary": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot.summary.json",
    "passk_records": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot_passk.records.jsonl",
    "passk_summary": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot_passk.summary.json",
    "val_loss": "eval/{model}/{budget}/step_{step}/val_loss.json",
    "summary": "summary.csv",
    "records": "records.parquet",
    "fits": "fits/fits.json",
    "summary_md": "summary.md",
}


class ConfigError(ValueError):
    """A config value is inconsistent; the message names the key."""


def load_config(path: str | os.PathLike, validate: bool = True) -> dict:
    """Read a YAML config and (by default) validate it against the JSON schema."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    if validate:
        validate_config(cfg)
    return cfg


def validate_config(cfg: dict) -> None:
    """Schema validation (snakemake.utils.validate) plus the cross-key checks a schema cannot express."""
    from snakemake.utils import validate as sm_validate

    sm_validate(cfg, str(SCHEMA))
    for model in cfg["models"]:
        g = grpo_settings(cfg, model)
        steps = checkpoint_steps(cfg, model)
        total = g.get("steps")
        if total is not None and max(steps) > total:
            raise ConfigError(f"grpo.save_steps for model '{model}': step {max(steps)} exceeds grpo.steps={total}")
        budgets(cfg, model)
    for name, bench in cfg["benchmarks"].items():
        kind = benchmark_kind(name, bench)
        if kind == "gsm8k" and not set(bench["scorers"]) <= {"strict", "flexible", "custom_flexible"}:
            raise ConfigError(f"benchmarks.{name}.scorers: gsm8k-style benchmarks take strict/flexible/custom_flexible")
    pk = (cfg.get("evaluate") or {}).get("pass_at_k")
    if pk:
        if pk.get("benchmark", "gsm8k") not in cfg["benchmarks"]:
            raise ConfigError(f"evaluate.pass_at_k.benchmark: '{pk.get('benchmark')}' is not in benchmarks")
        if max(pk["k"]) > pk["n"]:
            raise ConfigError(f"evaluate.pass_at_k.k: k={max(pk['k'])} exceeds n={pk['n']} samples")
    if cfg["pretrain"]["backend"] == "transformers":
        missing = [m for m, spec in cfg["models"].items() if "arch" not in spec]
        if missing:
            raise ConfigError(f"pretrain.backend=transformers needs models.<name>.arch; missing for {missing}")
    if cfg["pretrain"]["backend"] == "hub":
        missing = [m for m, spec in cfg["models"].items() if "hf_id" not in spec]
        if missing:
            raise ConfigError(f"pretrain.backend=hub needs models.<name>.hf_id; missing for {missing}")


def benchmark_kind(name: str, bench: dict) -> str:
    """Prompt/scorer family of a benchmark: explicit ``kind`` or the benchmark's name."""
    kind = bench.get("kind", name)
    if kind not in ("gsm8k", "math", "mmlu"):
        raise ConfigError(f"benchmarks.{name}.kind: cannot infer the family of '{name}'; set kind: gsm8k|math|mmlu")
    return kind


def budgets(cfg: dict, model: str) -> dict[str, float]:
    """Pre-training budgets of a model: label -> tokens (per-model ``budgets`` override ``pretrain.budgets``)."""
    b = cfg["models"][model].get("budgets") or cfg["pretrain"]["budgets"]
    if not b:
        raise ConfigError(f"models.{model}: no pre-training budgets (pretrain.budgets)")
    return {str(k): float(v) for k, v in b.items()}


def cells(cfg: dict) -> list[tuple[str, str]]:
    """Every (model, budget label) pair: one pre-trained base model each."""
    return [(m, b) for m in cfg["models"] for b in budgets(cfg, m)]


def grpo_settings(cfg: dict, model: str) -> dict:
    """The ``grpo`` section with the model's overrides applied."""
    g = copy.deepcopy(cfg["grpo"])
    g.update(copy.deepcopy(cfg["models"][model].get("grpo") or {}))
    return g


def checkpoint_steps(cfg: dict, model: str) -> list[int]:
    """RL checkpoints evaluated for a model (sorted, excluding 0 = base).

    ``save_steps`` lists them (the last step, ``steps``, is always saved and evaluated too); otherwise ``save_every``
    with ``steps`` gives every k-th step plus the last.
    """
    g = grpo_settings(cfg, model)
    if g.get("save_steps"):
        steps = sorted(set(int(s) for s in g["save_steps"]) | ({int(g["steps"])} if g.get("steps") else set()))
    elif g.get("save_every") and g.get("steps"):
        k, total = int(g["save_every"]), int(g["steps"])
        steps = sorted(set(list(range(k, total + 1, k)) + [total]))
    elif g.get("steps"):
        steps = [int(g["steps"])]
    else:
        raise ConfigError(f"grpo for model '{model}': set save_steps, or steps (+ save_every)")
    return steps


@dataclass(frozen=True)
class EvalJob:
    model: str
    budget: str
    step: int
    bench: str
    shots: int


def eval_jobs(cfg: dict) -> list[EvalJob]:
    """Greedy evaluation jobs: base and final checkpoint at every ``shots``, others at ``shots_intermediate``."""
    jobs: list[EvalJob] = []
    for model, budget in cells(cfg):
        ckpts = checkpoint_steps(cfg, model)
        final = ckpts[-1]
        for step in [0] + ckpts:
            for bench, spec in cfg["benchmarks"].items():
                shots = spec["shots"] if step in (0, final) else spec.get("shots_intermediate", spec["shots"])
                jobs.extend(EvalJob(model, budget, step, bench, int(s)) for s in shots)
    return jobs


def passk_jobs(cfg: dict) -> list[EvalJob]:
    """pass@k jobs: base and final checkpoint of every cell."""
    pk = (cfg.get("evaluate") or {}).get("pass_at_k")
    if not pk:
        return []
    bench, shots = pk.get("benchmark", "gsm8k"), int(pk.get("shots", 0))
    out = []
    for model, budget in cells(cfg):
        final = checkpoint_steps(cfg, model)[-1]
        out += [EvalJob(model, budget, 0, bench, shots), EvalJob(model, budget, final, bench, shots)]
    return out


def val_loss_jobs(cfg: dict) -> list[tuple[str, str, int]]:
    """Validation-loss jobs (model, budget, step): every base model (the pre-training scaling axis)."""
    if not cfg.get("val_loss"):
        return []
    return [(m, b, 0) for m, b in cells(cfg)]


def dataset_names(cfg: dict) -> list[str]:
    """Every prepared dataset the config needs (``results/data/<name>.jsonl``); see ``rlscaling.prepare``."""
    names = ["rl_train"]
    for bench, spec in cfg["benchmarks"].items():
        names.append(f"eval_{bench}")
        if max(spec["shots"] + spec.get("shots_intermediate", [])) > 0:
            names.append(f"fewshot_{bench}")
    if cfg["pretrain"]["backend"] == "transformers":
        names.append("pretrain_corpus")
    if cfg.get("val_loss") and cfg["val_loss"].get("source", "corpus") != "corpus":
        names.append("val_text")
    return names


def expected_job_counts(cfg: dict) -> dict[str, int]:
    """Jobs per rule that a from-scratch run of this config executes (what ``snakemake -n`` must list)."""
    n_cells = len(cells(cfg))
    counts = {"prepare_data": len(dataset_names(cfg)), "pretrain": n_cells, "grpo": n_cells,
              "evaluate": len(eval_jobs(cfg)), "evaluate_passk": len(passk_jobs(cfg)),
              "val_loss": len(val_loss_jobs(cfg)), "aggregate": 1, "fit": 1, "plots": 1, "report_tables": 1, "all": 1}
    if cfg["pretrain"]["backend"] == "transformers":
        counts["train_tokenizer"] = 1
    return {k: v for k, v in counts.items() if v}


def results_dir(cfg: dict) -> str:
    return cfg.get("results_dir", "results")


def path(cfg: dict, key: str, **wildcards) -> str:
    """A results path from ``PATHS`` with wildcards filled in."""
    return f"{results_dir(cfg)}/" + PATHS[key].format(**wildcards)


def final_targets(cfg: dict) -> list[str]:
    """What ``rule all`` asks for."""
    return [path(cfg, "summary"), path(cfg, "fits"), path(cfg, "summary_md"), f"{results_dir(cfg)}/figures"]
