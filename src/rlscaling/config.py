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
import math
import os
from pathlib import Path
from typing import NamedTuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

# Output path patterns, relative to the results directory.
PATHS = {
    "dataset": "data/{dataset}.jsonl",
    "tokenizer": "tokenizer",
    "trunk": "models/{model}/seed_{seed}/trunk",
    "base_model": "models/{model}/seed_{seed}/{budget}/base",
    "grpo": "grpo/{model}/seed_{seed}/{budget}/{reward}",
    "grpo_state": "state/grpo/{model}/seed_{seed}/{budget}/{reward}",
    "eval_records": "eval/{model}/seed_{seed}/{budget}/{reward}/step_{step}/{bench}_{shots}shot.records.jsonl",
    "eval_summary": "eval/{model}/seed_{seed}/{budget}/{reward}/step_{step}/{bench}_{shots}shot.summary.json",
    "passk_records": "eval/{model}/seed_{seed}/{budget}/{reward}/step_{step}/{bench}_{shots}shot_passk.records.jsonl",
    "passk_summary": "eval/{model}/seed_{seed}/{budget}/{reward}/step_{step}/{bench}_{shots}shot_passk.summary.json",
    "val_loss": "eval/{model}/seed_{seed}/{budget}/base/step_0/val_loss.json",
    "summary": "summary.csv",
    "records": "records.parquet",
    "fits": "fits/fits.json",
    "allocation": "fits/allocation.csv",
    "iso_flop": "fits/iso_flop.csv",
    "summary_md": "summary.md",
}
BASE = "base"
"""The ``{reward}`` path component and ``reward_mode`` column of a base model (step 0, before any RL): not a mode."""
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


def validate_config(cfg: dict, overrides=None) -> dict:
    """The one validation: schema (with defaults) + non-finite numbers + cross-key checks. Returns ``cfg``.

    ``overrides``: Snakemake's parsed ``--config`` (merged into ``cfg`` already), whose values arrive as strings; they
    are first read as the schema's types (:mod:`rlscaling.config_overrides`)."""
    if overrides:
        from .config_overrides import coerce_overrides

        coerce_overrides(cfg, overrides, _schema())
    _reject_non_finite(cfg)
    apply_schema(cfg)
    for model in cfg["models"]:
        _check_model(cfg, model)
    _check_dimensions(cfg)
    _check_evaluation(cfg)
    _check_published_results(cfg)
    _check_tensor_parallel(cfg)
    return cfg


def _check_tensor_parallel(cfg: dict) -> None:
    """Tensor-parallel sizes fit the GPUs their jobs request (:mod:`rlscaling.tensor_parallel`); all reported."""
    from .tensor_parallel import tensor_parallel_problems

    problems = tensor_parallel_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))


def _check_dimensions(cfg: dict) -> None:
    """``grpo.budgets`` names existing budgets; ``pretrain.schedule: wsd`` trains (transformers backend)."""
    known = {b for m in cfg["models"] for b in budgets(cfg, m)}
    unknown = [b for b in cfg["grpo"].get("budgets") or [] if b not in known]
    if unknown:
        raise ConfigError(f"grpo.budgets: {unknown} are not pre-training budgets of any model ({sorted(known)})")
    if cfg["pretrain"]["schedule"] == "wsd" and cfg["pretrain"]["backend"] != "transformers":
        raise ConfigError("pretrain.schedule: wsd trains trunks and branches; it needs pretrain.backend: transformers")


def _check_model(cfg: dict, model: str) -> None:
    """A model's weights source, and its GRPO settings as the job would build them (verl overrides included)."""
    from .training.common import GRPOSettings, check_data_budget

    for label, budget in budgets_detail(cfg, model).items():
        if cfg["pretrain"]["backend"] == "hub" and not budget["hf_id"]:
            raise ConfigError(
                f"models.{model}.budgets.{label}: pretrain.backend=hub needs an hf_id "
                f"(models.{model}.hf_id or the budget's own)"
            )
    if cfg["pretrain"]["backend"] == "transformers" and "arch" not in cfg["models"][model]:
        raise ConfigError(
            f"models.{model}.arch: pretrain.backend=transformers trains the model from this architecture; it is missing"
        )
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

        paths = {k: "/" for k in ("model_dir", "train_parquet", "val_parquet", "ckpt_dir", "rollout_dir")}
        try:
            build_overrides(cfg, model, paths)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _check_evaluation(cfg: dict) -> None:
    """Scorers suit their benchmark, pass@k names a benchmark and k <= n, validation windows fit."""
    from . import rewards

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
            raise ConfigError(
                f"evaluate.pass_at_k.scorer: '{pk['scorer']}' is not among "
                f"benchmarks.{pk['benchmark']}.scorers {scorers}"
            )
    vl = cfg["val_loss"]
    if vl and vl["stride"] > vl["seq_len"]:
        raise ConfigError(f"val_loss.stride={vl['stride']} exceeds val_loss.seq_len={vl['seq_len']}")
    if vl and vl["method"] == "blocks" and vl["stride"] != vl["seq_len"]:
        raise ConfigError(f"val_loss.method blocks needs val_loss.stride = seq_len = {vl['seq_len']}")
    if cfg["prompts"]["style"] == "seed":
        for name, bench in cfg["benchmarks"].items():
            few = [k for k in set(bench["shots"]) | set(bench.get("shots_intermediate") or []) if k > 0]
            if benchmark_kind(name, bench) == "math" and few:
                raise ConfigError(f"benchmarks.{name}.shots: prompts.style seed has a 0-shot MATH prompt only ({few})")


def published_results_path(cfg: dict) -> str | None:
    """``report.published_results`` (the seed's published table), relative paths resolved against the workflow
    directory; None when not configured."""
    configured = cfg["report"]["published_results"]
    return None if configured is None else str(ROOT / Path(configured).expanduser())


def _check_published_results(cfg: dict) -> None:
    """The configured published table exists and has the columns the comparison reads."""
    path = published_results_path(cfg)
    if path is not None:
        from .seed_comparison import check_published_file  # pandas: imported only when a table is configured

        try:
            check_published_file(path)
        except ValueError as exc:
            raise ConfigError(
                f"report.published_results: {exc} (the seed's published results; a relative path is read from the "
                f"workflow directory {ROOT})"
            ) from None


def check_tokenizer_vocabulary(cfg: dict) -> None:
    """``tokenizer.vocab_size`` covers the pre-training corpus's byte alphabet plus the special tokens (what the
    tokenizer job would refuse). Builds the corpus (seconds), so the Snakefile calls it only before a first run."""
    from .prepare import prepare_dataset
    from .tokenizer import SPECIAL_TOKENS, _alphabet_size

    rows = prepare_dataset(job_config(cfg, "prepare_data", dataset="pretrain_corpus"), "pretrain_corpus")
    needed = _alphabet_size([r["text"] for r in rows if r["split"] == "train"]) + len(SPECIAL_TOKENS)
    specials = len(SPECIAL_TOKENS)
    if cfg["tokenizer"]["vocab_size"] < needed:
        raise ConfigError(
            f"tokenizer.vocab_size={cfg['tokenizer']['vocab_size']} is too small for the pre-training "
            f"corpus (data.pretrain_corpus): it needs at least {needed} entries "
            f"({needed - specials} distinct bytes + {specials} special tokens)"
        )


def benchmark_kind(name: str, bench: dict) -> str:
    """Prompt/scorer family of a benchmark: explicit ``kind`` or the benchmark's name."""
    kind = bench.get("kind", name)
    if kind not in ("gsm8k", "math", "mmlu"):
        raise ConfigError(f"benchmarks.{name}.kind: cannot infer the family of '{name}'; set kind: gsm8k|math|mmlu")
    return kind


# ---------------------------------------------------------------------------------------------- the cells


def check_hub_ids(cfg: dict) -> str | None:
    """Before a hub study's first download, the hub knows every (id, revision) whose base-model pointer is missing
    for some seed (:func:`rlscaling.hub.check_hub_ids`): a :class:`ConfigError` names each unknown id and its config
    key; returns a warning when the hub could not be asked, else None."""
    from .hub import POINTER_FILE, HubModelError
    from .hub import check_hub_ids as ask_hub

    def fetched(model: str, budget: str) -> bool:
        return all(
            os.path.isfile(os.path.join(path(cfg, "base_model", model=model, seed=s, budget=budget), POINTER_FILE))
            for s in seeds(cfg, model)
        )

    try:
        return ask_hub(cfg, fetched)
    except HubModelError as exc:
        raise ConfigError(f"{exc}") from None


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
        out[str(label)] = {
            "tokens": float(b["tokens"]),
            "hf_id": b.get("hf_id", spec.get("hf_id")),
            "revision": b.get("revision", "main"),
            "annealed": bool(b.get("annealed", False)),
        }
    return out


def budgets(cfg: dict, model: str) -> dict[str, float]:
    """Pre-training budgets of a model: label -> tokens."""
    return {label: b["tokens"] for label, b in budgets_detail(cfg, model).items()}


class Cell(NamedTuple):
    """A pre-trained base model: model size, replicate seed and pre-training budget label."""

    model: str
    seed: int
    budget: str


class RLRun(NamedTuple):
    """A GRPO run: a cell trained with one reward mode (a scorer name)."""

    model: str
    seed: int
    budget: str
    reward: str

    @property
    def cell(self) -> Cell:
        return Cell(self.model, self.seed, self.budget)


def seeds(cfg: dict, model: str) -> list[int]:
    """Replicate seeds of a model: ``models.<model>.seeds``, else ``pretrain.seeds``, else the schema's default."""
    default = _schema()["properties"]["pretrain"]["properties"]["seeds"]["default"]
    return [int(s) for s in (cfg["models"][model].get("seeds") or cfg["pretrain"].get("seeds") or default)]


def reward_modes(cfg: dict) -> list[str]:
    """GRPO reward modes (scorer names); the first is the study's primary mode."""
    return list(cfg["grpo"]["reward_modes"])


def rl_budgets(cfg: dict, model: str) -> list[str]:
    """Budget labels of a model that get GRPO runs (``grpo.budgets``, default every budget), in budget order."""
    chosen = cfg["grpo"].get("budgets")
    return [b for b in budgets(cfg, model) if chosen is None or b in chosen]


def cells(cfg: dict) -> list[Cell]:
    """Every pre-trained base model: (model, seed, budget label)."""
    return [Cell(m, s, b) for m in cfg["models"] for s in seeds(cfg, m) for b in budgets(cfg, m)]


def rl_runs(cfg: dict) -> list[RLRun]:
    """Every GRPO run: each cell of an RL budget x each reward mode."""
    return [
        RLRun(m, s, b, r)
        for m in cfg["models"]
        for s in seeds(cfg, m)
        for b in rl_budgets(cfg, m)
        for r in reward_modes(cfg)
    ]


def cell_seed(cfg: dict, model: str, seed: int, budget: str | None = None) -> int:
    """A job's RNG seed from (study seed, model, replicate seed[, budget]) only: adding a model, seed or budget
    changes no other job's seed. Without ``budget``: the seed of a (model, seed) pre-training trunk; GRPO runs of one
    cell share their seed across reward modes (paired runs)."""
    key = f"{int(cfg['seed'])}/{model}/seed_{int(seed)}" + ("" if budget is None else f"/{budget}")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def grpo_settings(cfg: dict, model: str, reward: str | None = None) -> dict:
    """One GRPO run's settings: the ``grpo`` section with the model's overrides applied (``verl`` knobs merged key by
    key) and ``reward_mode`` = ``reward`` (default: the section's own ``reward_mode``, as in a job's settings, else
    the primary mode) in place of the study-level lists."""
    g = copy.deepcopy(cfg["grpo"])
    modes = g.pop("reward_modes", None)  # a job's pruned config already holds its one reward_mode
    g.pop("budgets", None)
    g.pop("seed", None)  # the RL seed reaches a job as its top-level seed (job_settings), not as a GRPO setting
    g["reward_mode"] = reward or g.get("reward_mode") or modes[0]
    override = copy.deepcopy(cfg["models"][model].get("grpo") or {})
    if "verl" in override:
        g["verl"] = {**(g.get("verl") or {}), **override.pop("verl")}
    g.update(override)
    return g


def checkpoint_steps(cfg: dict, model: str) -> list[int]:
    """RL checkpoints evaluated for a model (sorted, excluding 0 = the base model; the last step always)."""
    from .training.common import GRPOSettings

    return list(GRPOSettings.from_config(grpo_settings(cfg, model), 0).save_steps)


def results_dir(cfg: dict) -> str:
    return cfg.get("results_dir", "results")


def path(cfg: dict, key: str, **wildcards) -> str:
    """A results path from ``PATHS`` with wildcards filled in."""
    return f"{results_dir(cfg)}/" + PATHS[key].format(**wildcards)


def final_targets(cfg: dict) -> list[str]:
    """What ``rule all`` asks for."""
    return [path(cfg, "summary"), path(cfg, "fits"), path(cfg, "summary_md"), f"{results_dir(cfg)}/figures"]


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


# The evaluation plan and the job settings live in their own modules; their names stay importable from here.
from .job_settings import fit_settings, job_config, job_settings_json  # noqa: E402, F401 (re-exported)
from .plan import (  # noqa: E402, F401 (re-exported)
    PLANS,
    Checkpoint,
    EvalItem,
    EvalJob,
    checkpoint_id,
    checkpoint_regex,
    checkpoints,
    dataset_names,
    eval_jobs,
    eval_plan,
    expected_job_counts,
    parse_checkpoint_id,
    passk_jobs,
    val_loss_jobs,
)
