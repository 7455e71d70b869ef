"""Each job's settings: the pruned copy of the config that one job reads (``params: settings`` of every rule).

Same shape as the config, so job code indexes it as it would the config; Snakemake records it and reruns a job when
it changes (and only then).
"""

from __future__ import annotations

import copy
import json

from rlscaling.study import (
    JOIN,
    REFERENCE_DATASET,
    TRAIN,
    ConfigError,
    benchmark_kind,
    budgets,
    budgets_detail,
    cell_seed,
    grpo_settings,
    prompt_style,
    resources,
    run_train,
    train_sets,
    variant_setting,
)
from rlscaling.workflow.plan import EVAL_RULES, eval_plan


def _prompts(cfg: dict) -> dict:
    """``{"prompts": ...}`` for the jobs whose work depends on ``prompts.style`` (few-shot pools, GRPO, evaluation),
    only when it is not the default ``consistent``: studies on the default keep their jobs' settings unchanged."""
    return {"prompts": dict(cfg["prompts"])} if prompt_style(cfg) != "consistent" else {}


def _benchmark_data(spec: dict, kind: str) -> dict:
    keep = ("source", "split", "n", "seed", "fewshot_source", "fewshot_split", "fewshot_n", "fewshot_seed")
    return {"kind": kind, **{k: spec[k] for k in keep if k in spec}}


def _dataset_config(cfg: dict, dataset: str) -> dict:
    if dataset == "rl_train":
        return {
            "seed": cfg["seed"],
            "data": {"rl_train": cfg["data"]["rl_train"]},
            "grpo": {"reward_mode": cfg["grpo"]["reward_modes"][0]},
        }
    if dataset.startswith(f"{REFERENCE_DATASET}_"):  # rl_train_<name>: a set of data.rl_train_sets
        name = dataset[len(REFERENCE_DATASET) + 1 :]
        sets = cfg["data"].get("rl_train_sets") or {}
        if name not in sets:
            raise ConfigError(f"dataset '{dataset}': no set '{name}' in data.rl_train_sets ({sorted(sets)})")
        return {"seed": cfg["seed"], "data": {"rl_train_sets": {name: sets[name]}}}
    if dataset == "pretrain_corpus":
        return {"data": {"pretrain_corpus": cfg["data"].get("pretrain_corpus") or {}}}
    if dataset == "val_text":
        return {"seed": cfg["seed"], "val_loss": cfg["val_loss"]}
    bench = dataset.split("_", 1)[1]
    if bench not in cfg["benchmarks"]:
        raise ConfigError(f"dataset '{dataset}': no benchmark '{bench}' in benchmarks ({sorted(cfg['benchmarks'])})")
    spec = cfg["benchmarks"][bench]
    data = {"seed": cfg["seed"], "benchmarks": {bench: _benchmark_data(spec, benchmark_kind(bench, spec))}}
    return {**data, **_prompts(cfg)} if dataset.startswith("fewshot_") else data


def _model_entry(cfg: dict, model: str, *keys: str) -> dict:
    spec = cfg["models"][model]
    return {k: copy.deepcopy(spec[k]) for k in keys if k in spec}


def _pretrain_config(cfg: dict, model: str, seed: int, budget: str | None) -> dict:
    """A base model's (``budget``) or a WSD trunk's (``budget`` None) settings. The seed of a WSD branch is its
    trunk's: the branch continues the trunk's run; a cosine run is seeded per budget."""
    wsd = cfg["pretrain"]["schedule"] == "wsd"
    out = {
        "seed": cell_seed(cfg, model, seed, None if wsd else budget),
        "pretrain": {"backend": cfg["pretrain"]["backend"]},
    }
    if budget is not None:
        out["budget"] = budgets_detail(cfg, model)[budget]
    if cfg["pretrain"]["backend"] == "transformers":
        keys = ("seq_len", "batch_size", "lr", "warmup_fraction", "schedule")
        out["pretrain"].update({k: cfg["pretrain"][k] for k in keys})
        if wsd:
            out["pretrain"].update(decay_fraction=cfg["pretrain"]["decay_fraction"], budgets=budgets(cfg, model))
        out["models"] = {model: _model_entry(cfg, model, "arch")}
    else:
        out["models"] = {model: _model_entry(cfg, model, "n_params")}
    return out


def _train_set(spec: dict) -> dict:
    """What a GRPO job reads of one RL training set (its rows come as the input file): the source (verl's
    ``data_source``), ``instruction`` and, unless it is the default ``gsm8k``, its ``kind`` (the rows' prompt and
    reward family), so studies on GSM8K keep their jobs' settings unchanged."""
    out = {k: spec[k] for k in ("source", "instruction")}
    return out if spec.get("kind", "gsm8k") == "gsm8k" else {**out, "kind": spec["kind"]}


def _grpo_data(cfg: dict, variant: str) -> tuple[dict, dict]:
    """A GRPO run's training sets: ``({"train": value}, {"rl_train_sets": {name: set}})`` for a ``train`` variant (the
    sets it joins, in order: a change to one of them reruns exactly the runs that read it), else ``({}, {"rl_train":
    set})``, the reference set."""
    if variant_setting(cfg, variant).key != TRAIN:
        return {}, {"rl_train": _train_set(cfg["data"]["rl_train"])}
    names, sets = run_train(cfg, variant), train_sets(cfg)
    return {TRAIN: JOIN.join(names)}, {"rl_train_sets": {n: _train_set(sets[n]) for n in names}}


def _grpo_config(cfg: dict, model: str, seed: int, budget: str, reward: str, variant: str) -> dict:
    """A GRPO run's settings: its sweep ``variant``'s value applied (a ``train`` value as ``grpo.train`` and its sets,
    :func:`_grpo_data`); the seed is the cell's, whatever the reward mode and variant (paired runs)."""
    g = grpo_settings(cfg, model, reward, variant)
    train, data = _grpo_data(cfg, variant)
    rl_seed = cfg["seed"] if cfg["grpo"].get("seed") is None else cfg["grpo"]["seed"]
    return {
        "seed": cell_seed({**cfg, "seed": rl_seed}, model, seed, budget),
        "prompt_seed": rl_seed,
        "grpo": {**g, **train},
        "models": {model: {"grpo": {}, "resources": {"grpo": resources(cfg, model, "grpo")}}},
        "data": data,
        **_prompts(cfg),
    }


def _evaluate_config(cfg: dict, plan: str) -> dict:
    items = eval_plan(cfg, plan)
    benches = {}
    for it in items:
        spec = cfg["benchmarks"][it.bench]
        if it.bench not in benches:
            keep = ("scorers", "instruction", "max_new_tokens", "max_prompt_tokens", "stop")
            benches[it.bench] = {"kind": benchmark_kind(it.bench, spec), **{k: spec[k] for k in keep}}
    ev = {k: v for k, v in cfg["evaluate"].items() if k != "pass_at_k"}
    if any(it.passk for it in items):
        ev["pass_at_k"] = cfg["evaluate"]["pass_at_k"]
    return {
        "seed": cfg["seed"],
        "benchmarks": benches,
        "evaluate": ev,
        "plan": [[it.bench, it.shots, it.passk] for it in items],
        **_prompts(cfg),
    }


def _aggregate_config(cfg: dict) -> dict:
    models = {m: {"n_params": spec["n_params"]} if "n_params" in spec else {} for m, spec in cfg["models"].items()}
    for m in models:
        models[m]["budgets"] = budgets(cfg, m)
    return {
        "study": cfg["study"],
        "seed": cfg["seed"],
        "fit": {"ci": cfg["fit"]["ci"]},
        "evaluate": {"pass_at_k": cfg["evaluate"]["pass_at_k"]},
        "grpo": {"reward_modes": cfg["grpo"]["reward_modes"]},
        "models": models,
    }


def fit_settings(cfg: dict) -> dict:
    """The ``fit`` section with the study seed as its default ``seed``."""
    return {**cfg["fit"], "seed": cfg["fit"].get("seed", cfg["seed"])}


def _view_variant(cfg: dict) -> dict:
    """``{"fit": {"variant": ...}}`` for the jobs whose views read one sweep variant (figures, report tables), only when
    ``fit.variant`` is not the reference: a study on the default keeps their settings unchanged."""
    variant = cfg["fit"].get("variant", "reference")
    return {"fit": {"variant": variant}} if variant != "reference" else {}


def job_config(cfg: dict, rule: str, **wc) -> dict:
    """The pruned config one job of ``rule`` reads (wildcards as keyword arguments); see the module docstring."""
    if rule == "prepare_data":
        return _dataset_config(cfg, wc["dataset"])
    if rule == "train_tokenizer":
        return {"tokenizer": cfg["tokenizer"]}
    if rule == "pretrain_trunk":
        return _pretrain_config(cfg, wc["model"], int(wc["seed"]), None)
    if rule == "pretrain":
        return _pretrain_config(cfg, wc["model"], int(wc["seed"]), wc["budget"])
    if rule == "grpo":
        return _grpo_config(cfg, wc["model"], int(wc["seed"]), wc["budget"], wc["reward"], wc.get("variant", ""))
    for plan, eval_rule in EVAL_RULES.items():
        if rule == eval_rule:
            return _evaluate_config(cfg, plan)
    if rule == "val_loss":
        return {"val_loss": cfg["val_loss"], "evaluate": {"precision": cfg["evaluate"]["precision"]}}
    if rule == "aggregate":
        return _aggregate_config(cfg)
    primary = {"grpo": {"reward_modes": cfg["grpo"]["reward_modes"]}}  # analysis views read the primary mode
    if rule == "fit":
        return {"fit": fit_settings(cfg), **primary}
    if rule == "plots":
        return {"plots": cfg["plots"], **_view_variant(cfg), **primary}
    if rule == "report_tables":
        return {"fit": {k: fit_settings(cfg)[k] for k in ("ci", "seed")} | _view_variant(cfg).get("fit", {}), **primary}
    if rule == "variant_comparisons":
        return {"fit": {k: fit_settings(cfg)[k] for k in ("bootstrap", "ci", "seed")}}
    if rule == "seed_comparison":
        from rlscaling.report.seed_comparison import mapping_settings

        return {"seed_comparison": mapping_settings(cfg)}
    raise ConfigError(f"no job settings for rule '{rule}'")


def job_settings_json(cfg: dict, rule: str, **wc) -> str:
    """:func:`job_config` as canonical JSON (what ``params:`` carries; Snakemake compares it between runs)."""
    return json.dumps(job_config(cfg, rule, **wc), sort_keys=True, separators=(",", ":"))
