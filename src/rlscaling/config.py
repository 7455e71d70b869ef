"""Workflow configuration: the one validation, and what a config implies (cells, checkpoints, jobs, job settings).

Validation has two layers and no other: the JSON schema ``workflow/schemas/config.schema.yaml`` (types, ranges,
unknown keys, and the ``default:`` of every optional key, filled in here) and the typed settings built from it
(:class:`rlscaling.training.common.GRPOSettings` and the cross-key checks of :func:`validate_config`). The Snakefile
calls :func:`validate_config` before any job starts; every error is a :class:`ConfigError` naming the key.

Each job receives :func:`job_config`: a pruned copy of the config with only the keys that job reads (same shape as
the full config, so job code indexes it the same way). The rules pass it through ``params:``, so editing a key reruns
exactly the jobs that read it, and everything downstream of their outputs. Job code never loads or validates a config
itself: it runs in backend environments that have neither Snakemake nor jsonschema.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import re
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
    "grpo_state": "state/grpo/{model}/{budget}",
    "eval_records": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot.records.jsonl",
    "eval_summary": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot.summary.json",
    "passk_records": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot_passk.records.jsonl",
    "passk_summary": "eval/{model}/{budget}/step_{step}/{bench}_{shots}shot_passk.summary.json",
    "val_loss": "eval/{model}/{budget}/step_{step}/val_loss.json",
    "summary": "summary.csv",
    "records": "records.parquet",
    "fits": "fits/fits.json",
    "allocation": "fits/allocation.csv",
    "iso_flop": "fits/iso_flop.csv",
    "summary_md": "summary.md",
}
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: ~10x faster where available


class ConfigError(ValueError):
    """A config value is wrong or inconsistent; the message names the key."""


# ------------------------------------------------------------------------------------------------ validation


def load_config(path: str | os.PathLike, validate: bool = True) -> dict:
    """Read a YAML config; by default validate it and fill in the schema's defaults (see :func:`validate_config`)."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.load(fh, Loader=YAML_LOADER)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(cfg).__name__}")
    return validate_config(cfg) if validate else cfg


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    """The config schema (parsed once per process; read-only: defaults are deep-copied out of it)."""
    with open(SCHEMA, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=YAML_LOADER)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<config>"


def _reject_non_finite(value, path=()) -> None:
    """NaN and infinity are never valid settings (YAML's ``.nan``/``.inf`` pass a schema's numeric bounds)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{_key(path)}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _reject_non_finite(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _reject_non_finite(v, (*path, i))


def apply_schema(cfg: dict) -> dict:
    """Validate ``cfg`` against the JSON schema in place, filling in every ``default:``; errors name the key."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    filling = jsonschema.validators.extend(base, {"properties": fill_defaults})
    errors = sorted(filling(_schema()).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        raise ConfigError(f"{_key(err.absolute_path)}: {err.message}")
    return cfg


def validate_config(cfg: dict) -> dict:
    """The one validation: schema (with defaults) + non-finite numbers + cross-key checks. Returns ``cfg``."""
    _reject_non_finite(cfg)
    apply_schema(cfg)
    from . import rewards
    from .training.common import GRPOSettings, check_data_budget

    for model, spec in cfg["models"].items():
        for label, budget in budgets_detail(cfg, model).items():
            if cfg["pretrain"]["backend"] == "hub" and not budget["hf_id"]:
                raise ConfigError(f"models.{model}.budgets.{label}: pretrain.backend=hub needs an hf_id "
                                  f"(models.{model}.hf_id or the budget's own)")
        if cfg["pretrain"]["backend"] == "transformers" and "arch" not in spec:
            raise ConfigError(f"models.{model}.arch: pretrain.backend=transformers trains the model from this "
                              "architecture; it is missing")
        try:
            settings = GRPOSettings.from_config(grpo_settings(cfg, model), 0)
        except ValueError as exc:
            raise ConfigError(f"{exc} (model '{model}': grpo with models.{model}.grpo applied)") from None
        n_prompts = cfg["data"]["rl_train"]["n"]
        if n_prompts is not None:
            try:
                check_data_budget(settings, n_prompts)
            except ValueError as exc:
                raise ConfigError(f"data.rl_train.n={n_prompts}: {exc} (model '{model}')") from None
        if settings.backend == "verl":
            from .training.verl_backend import build_overrides

            try:
                build_overrides(cfg, model, {k: "/" for k in ("model_dir", "train_parquet", "val_parquet",
                                                              "ckpt_dir", "rollout_dir")})
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    for name, bench in cfg["benchmarks"].items():
        kind = benchmark_kind(name, bench)
        allowed = rewards.SCORERS[kind]
        wrong = [s for s in bench["scorers"] if s not in allowed]
        if wrong:
            raise ConfigError(f"benchmarks.{name}.scorers: {wrong} do not score {kind}; choose from {list(allowed)}")
    pk = cfg["evaluate"]["pass_at_k"]
    if pk:
        if pk["benchmark"] not in cfg["benchmarks"]:
            raise ConfigError(f"evaluate.pass_at_k.benchmark: '{pk['benchmark']}' is not in benchmarks")
        if max(pk["k"]) > pk["n"]:
            raise ConfigError(f"evaluate.pass_at_k.k: k={max(pk['k'])} exceeds n={pk['n']} samples")
        scorers = cfg["benchmarks"][pk["benchmark"]]["scorers"]
        if pk["scorer"] is not None and pk["scorer"] not in scorers:
            raise ConfigError(f"evaluate.pass_at_k.scorer: '{pk['scorer']}' is not among "
                              f"benchmarks.{pk['benchmark']}.scorers {scorers}")
    vl = cfg["val_loss"]
    if vl and vl["stride"] > vl["seq_len"]:
        raise ConfigError(f"val_loss.stride={vl['stride']} exceeds val_loss.seq_len={vl['seq_len']}")
    return cfg


def check_tokenizer_vocabulary(cfg: dict) -> None:
    """``tokenizer.vocab_size`` covers the pre-training corpus's byte alphabet plus the special tokens (what the
    tokenizer job would refuse). Builds the corpus (seconds), so the Snakefile calls it only before a first run."""
    from .prepare import prepare_dataset
    from .tokenizer import SPECIAL_TOKENS, _alphabet_size

    rows = prepare_dataset(job_config(cfg, "prepare_data", dataset="pretrain_corpus"), "pretrain_corpus")
    needed = _alphabet_size([r["text"] for r in rows if r["split"] == "train"]) + len(SPECIAL_TOKENS)
    if cfg["tokenizer"]["vocab_size"] < needed:
        raise ConfigError(f"tokenizer.vocab_size={cfg['tokenizer']['vocab_size']} is too small for the pre-training "
                          f"corpus (data.pretrain_corpus): it needs at least {needed} entries ({needed - len(SPECIAL_TOKENS)} "
                          f"distinct bytes + {len(SPECIAL_TOKENS)} special tokens)")


def benchmark_kind(name: str, bench: dict) -> str:
    """Prompt/scorer family of a benchmark: explicit ``kind`` or the benchmark's name."""
    kind = bench.get("kind", name)
    if kind not in ("gsm8k", "math", "mmlu"):
        raise ConfigError(f"benchmarks.{name}.kind: cannot infer the family of '{name}'; set kind: gsm8k|math|mmlu")
    return kind


# ---------------------------------------------------------------------------------------------- the cells


def budgets_detail(cfg: dict, model: str) -> dict[str, dict]:
    """Budgets of a model: label -> ``{tokens, hf_id, revision, annealed}`` (per-model budgets replace
    ``pretrain.budgets``; a bare number is tokens; ``hf_id`` falls back to ``models.<model>.hf_id``)."""
    spec = cfg["models"][model]
    raw = spec.get("budgets") or cfg["pretrain"].get("budgets")
    if not raw:
        raise ConfigError(f"models.{model}.budgets: no pre-training budgets (set them here or in pretrain.budgets)")
    out = {}
    for label, b in raw.items():
        b = b if isinstance(b, dict) else {"tokens": b}
        out[str(label)] = {"tokens": float(b["tokens"]), "hf_id": b.get("hf_id", spec.get("hf_id")),
                           "revision": b.get("revision", "main"), "annealed": bool(b.get("annealed", False))}
    return out


def budgets(cfg: dict, model: str) -> dict[str, float]:
    """Pre-training budgets of a model: label -> tokens."""
    return {label: b["tokens"] for label, b in budgets_detail(cfg, model).items()}


def cells(cfg: dict) -> list[tuple[str, str]]:
    """Every (model, budget label) pair: one pre-trained base model each."""
    return [(m, b) for m in cfg["models"] for b in budgets(cfg, m)]


def cell_seed(cfg: dict, model: str, budget: str) -> int:
    """A cell's seed, from (study seed, model, budget) only: adding a model or budget changes no other cell."""
    digest = hashlib.sha256(f"{int(cfg['seed'])}/{model}/{budget}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def grpo_settings(cfg: dict, model: str) -> dict:
    """The ``grpo`` section with the model's overrides applied (``verl`` knobs merged key by key)."""
    g = copy.deepcopy(cfg["grpo"])
    override = copy.deepcopy(cfg["models"][model].get("grpo") or {})
    if "verl" in override:
        g["verl"] = {**(g.get("verl") or {}), **override.pop("verl")}
    g.update(override)
    return g


def checkpoint_steps(cfg: dict, model: str) -> list[int]:
    """RL checkpoints evaluated for a model (sorted, excluding 0 = the base model; the last step always)."""
    from .training.common import GRPOSettings

    return list(GRPOSettings.from_config(grpo_settings(cfg, model), 0).save_steps)


# ------------------------------------------------------------------------------------------ evaluation plan


@dataclass(frozen=True)
class EvalJob:
    """One evaluated file pair (records + summary): a checkpoint x benchmark x shots."""

    model: str
    budget: str
    step: int
    bench: str
    shots: int


@dataclass(frozen=True)
class EvalItem:
    """What one checkpoint's evaluation job writes for one benchmark: ``shots`` and whether it is pass@k."""

    bench: str
    shots: int
    passk: bool = False

    @property
    def stem(self) -> str:
        return f"{self.bench}_{self.shots}shot" + ("_passk" if self.passk else "")


PLANS = ("endpoint", "intermediate")
"""Evaluation plans: ``endpoint`` = the base model and the final checkpoint (every shot count, pass@k),
``intermediate`` = every other checkpoint (``shots_intermediate``)."""


def eval_plan(cfg: dict, plan: str) -> list[EvalItem]:
    """The files one checkpoint's evaluation job writes under a plan (same for every model)."""
    items = []
    for bench, spec in cfg["benchmarks"].items():
        shots = spec["shots"] if plan == "endpoint" else spec.get("shots_intermediate", spec["shots"])
        items += [EvalItem(bench, int(s)) for s in shots]
    pk = cfg["evaluate"].get("pass_at_k")
    if plan == "endpoint" and pk:
        items.append(EvalItem(pk.get("benchmark", "gsm8k"), int(pk.get("shots", 0)), passk=True))
    return items


def checkpoints(cfg: dict, plan: str) -> list[tuple[str, str, int]]:
    """(model, budget, step) of every checkpoint evaluated under ``plan``."""
    out = []
    for model, budget in cells(cfg):
        steps = checkpoint_steps(cfg, model)
        if plan == "endpoint":
            out += [(model, budget, 0), (model, budget, steps[-1])]
        else:
            out += [(model, budget, s) for s in steps[:-1]]
    return out


def checkpoint_id(model: str, budget: str, step: int) -> str:
    """The ``{checkpoint}`` wildcard of the evaluation rules: ``<model>/<budget>/step_<k>``."""
    return f"{model}/{budget}/step_{step}"


def parse_checkpoint_id(checkpoint: str) -> tuple[str, str, int]:
    model, budget, step = checkpoint.split("/")
    return model, budget, int(step.removeprefix("step_"))


def checkpoint_regex(cfg: dict, plan: str) -> str:
    """Wildcard constraint matching exactly the checkpoints of ``plan`` (``(?!)`` matches nothing)."""
    ids = [re.escape(checkpoint_id(*c)) for c in checkpoints(cfg, plan)]
    return "|".join(ids) if ids else "(?!)"


def eval_jobs(cfg: dict) -> list[EvalJob]:
    """Every greedy (checkpoint, benchmark, shots) evaluated; each is one records + summary file pair."""
    return [EvalJob(m, b, s, it.bench, it.shots) for plan in PLANS for (m, b, s) in checkpoints(cfg, plan)
            for it in eval_plan(cfg, plan) if not it.passk]


def passk_jobs(cfg: dict) -> list[EvalJob]:
    """Every pass@k (checkpoint, benchmark, shots): the base model and the final checkpoint of every cell."""
    return [EvalJob(m, b, s, it.bench, it.shots) for (m, b, s) in checkpoints(cfg, "endpoint")
            for it in eval_plan(cfg, "endpoint") if it.passk]


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
              "evaluate_endpoint": len(checkpoints(cfg, "endpoint")),
              "evaluate_intermediate": len(checkpoints(cfg, "intermediate")),
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


# ------------------------------------------------------------------------------------------- job settings


def _benchmark_data(spec: dict, kind: str) -> dict:
    keep = ("source", "split", "n", "seed", "fewshot_source", "fewshot_split", "fewshot_n", "fewshot_seed")
    return {"kind": kind, **{k: spec[k] for k in keep if k in spec}}


def _dataset_config(cfg: dict, dataset: str) -> dict:
    if dataset == "rl_train":
        return {"seed": cfg["seed"], "data": {"rl_train": cfg["data"]["rl_train"]},
                "grpo": {"reward_mode": cfg["grpo"]["reward_mode"]}}
    if dataset == "pretrain_corpus":
        return {"data": {"pretrain_corpus": cfg["data"].get("pretrain_corpus") or {}}}
    if dataset == "val_text":
        return {"seed": cfg["seed"], "val_loss": cfg["val_loss"]}
    bench = dataset.split("_", 1)[1]
    if bench not in cfg["benchmarks"]:
        raise ConfigError(f"dataset '{dataset}': no benchmark '{bench}' in benchmarks ({sorted(cfg['benchmarks'])})")
    spec = cfg["benchmarks"][bench]
    return {"seed": cfg["seed"], "benchmarks": {bench: _benchmark_data(spec, benchmark_kind(bench, spec))}}


def _model_entry(cfg: dict, model: str, *keys: str) -> dict:
    spec = cfg["models"][model]
    return {k: copy.deepcopy(spec[k]) for k in keys if k in spec}


def _pretrain_config(cfg: dict, model: str, budget: str) -> dict:
    out = {"seed": cell_seed(cfg, model, budget), "budget": budgets_detail(cfg, model)[budget],
           "pretrain": {"backend": cfg["pretrain"]["backend"]}}
    if cfg["pretrain"]["backend"] == "transformers":
        out["pretrain"].update({k: cfg["pretrain"][k] for k in ("seq_len", "batch_size", "lr", "warmup_fraction")})
        out["models"] = {model: _model_entry(cfg, model, "arch")}
    else:
        out["models"] = {model: _model_entry(cfg, model, "n_params")}
    return out


def _grpo_config(cfg: dict, model: str, budget: str) -> dict:
    g = grpo_settings(cfg, model)
    resources = (cfg["models"][model].get("resources") or {}).get("grpo") or {}
    return {"seed": cell_seed(cfg, model, budget), "prompt_seed": cfg["seed"], "grpo": g,
            "models": {model: {"grpo": {}, "resources": {"grpo": resources}}},
            "data": {"rl_train": {k: cfg["data"]["rl_train"][k] for k in ("source", "instruction")}}}


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
    return {"seed": cfg["seed"], "benchmarks": benches, "evaluate": ev,
            "plan": [[it.bench, it.shots, it.passk] for it in items]}


def _aggregate_config(cfg: dict) -> dict:
    models = {m: {"n_params": spec["n_params"]} if "n_params" in spec else {} for m, spec in cfg["models"].items()}
    for m in models:
        models[m]["budgets"] = budgets(cfg, m)
    return {"study": cfg["study"], "seed": cfg["seed"], "fit": {"ci": cfg["fit"]["ci"]},
            "evaluate": {"pass_at_k": cfg["evaluate"]["pass_at_k"]}, "models": models}


def fit_settings(cfg: dict) -> dict:
    """The ``fit`` section with the study seed as its default ``seed``."""
    return {**cfg["fit"], "seed": cfg["fit"].get("seed", cfg["seed"])}


def job_config(cfg: dict, rule: str, **wc) -> dict:
    """The pruned config one job of ``rule`` reads (wildcards as keyword arguments); see the module docstring."""
    if rule == "prepare_data":
        return _dataset_config(cfg, wc["dataset"])
    if rule == "train_tokenizer":
        return {"tokenizer": cfg["tokenizer"]}
    if rule == "pretrain":
        return _pretrain_config(cfg, wc["model"], wc["budget"])
    if rule == "grpo":
        return _grpo_config(cfg, wc["model"], wc["budget"])
    if rule in ("evaluate_endpoint", "evaluate_intermediate"):
        return _evaluate_config(cfg, rule.removeprefix("evaluate_"))
    if rule == "val_loss":
        return {"val_loss": cfg["val_loss"], "evaluate": {"precision": cfg["evaluate"]["precision"]}}
    if rule == "aggregate":
        return _aggregate_config(cfg)
    if rule == "fit":
        return {"fit": fit_settings(cfg)}
    if rule == "plots":
        return {"plots": cfg["plots"]}
    if rule == "report_tables":
        return {"fit": {k: fit_settings(cfg)[k] for k in ("ci", "seed")}}
    raise ConfigError(f"no job settings for rule '{rule}'")


def job_settings_json(cfg: dict, rule: str, **wc) -> str:
    """:func:`job_config` as canonical JSON (what ``params:`` carries; Snakemake compares it between runs)."""
    return json.dumps(job_config(cfg, rule, **wc), sort_keys=True, separators=(",", ":"))


# -------------------------------------------------------------------------------------------- environments


def backend_of(cfg: dict, rule: str) -> str:
    """The backend whose environment runs ``rule``'s jobs."""
    if rule == "grpo":
        return cfg["grpo"]["backend"]
    if rule in ("evaluate_endpoint", "evaluate_intermediate"):
        return cfg["evaluate"]["backend"]
    return "transformers"


def backend_python(cfg: dict, backend: str, conda: bool, default: str) -> str:
    """Interpreter of a backend's jobs: ``python`` inside its conda env; else ``environments.<backend>.python``,
    else ``$RLSCALING_<BACKEND>_PYTHON``, else ``default`` (the interpreter running Snakemake)."""
    if conda:
        return "python"
    configured = cfg["environments"][backend]["python"]
    return configured or os.environ.get(f"RLSCALING_{backend.upper()}_PYTHON") or default


def python_setting_name(backend: str) -> str:
    """How a user names a backend's interpreter (for error messages)."""
    return f"environments.{backend}.python (or RLSCALING_{backend.upper()}_PYTHON)"


def conda_env_file(cfg: dict, backend: str) -> str:
    """Path (relative to the repository root) of a backend's conda environment file (default: the schema's)."""
    default = _schema()["properties"]["environments"]["properties"][backend]["default"]["conda"]
    return cfg["environments"][backend].get("conda") or default
