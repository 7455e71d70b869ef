"""Workflow configuration: reading a config and the one validation.

Validation has two layers and no other: the JSON schema ``workflow/schemas/config.schema.yaml``
(:mod:`rlscaling.config_schema`: types, ranges, unknown keys, and the ``default:`` of every optional key, filled in
here) and the typed settings built from it (:class:`rlscaling.training.common.GRPOSettings` and the cross-key checks
of :func:`validate_config`). The Snakefile calls :func:`validate_config` before any job starts; every error is a
:class:`rlscaling.study.ConfigError` naming the key.

What a validated config implies lives below this module, which imports them and is imported by none of them: the
study's cells, runs, seeds and paths (:mod:`rlscaling.study`), the checkpoints and job counts of the DAG
(:mod:`rlscaling.workflow.plan`), each job's settings (:mod:`rlscaling.workflow.job_settings`; a pruned copy of the
config with only
the keys that job reads, so editing a key reruns exactly the jobs that read it) and each backend's interpreter
(:mod:`rlscaling.workflow.job_environment`). Job code never loads or validates a config itself: it runs in backend
environments that have neither Snakemake nor jsonschema.
"""

from __future__ import annotations

import copy
import math
import os

import yaml

from rlscaling.config_schema import ROOT, YAML_LOADER, _schema
from rlscaling.study import (
    ConfigError,
    _key,
    benchmark_kind,
    budgets,
    budgets_detail,
    grpo_settings,
    path,
    prompt_style,
    published_results_path,
    seeds,
)
from rlscaling.tasks import family
from rlscaling.training.common import GRPOSettings, check_data_budget
from rlscaling.training.verl_backend import overrides_for
from rlscaling.workflow.config_overrides import coerce_overrides
from rlscaling.workflow.job_settings import job_config
from rlscaling.workflow.reward_sweep import normalise_reward_modes
from rlscaling.workflow.sweeps import check_sweeps
from rlscaling.workflow.tensor_parallel import tensor_parallel_problems

# ------------------------------------------------------------------------------------------------ validation


def load_config(path: str | os.PathLike, validate: bool = True) -> dict:
    """Read a YAML config; by default validate it and fill in the schema's defaults (see :func:`validate_config`)."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.load(fh, Loader=YAML_LOADER)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(cfg).__name__}")
    return validate_config(cfg) if validate else cfg


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
    are first read as the schema's types (:mod:`rlscaling.workflow.config_overrides`)."""
    if overrides:
        coerce_overrides(cfg, overrides, _schema())
    _reject_non_finite(cfg)
    apply_schema(cfg)
    normalise_reward_modes(cfg)  # grpo.reward_mode + its sweep -> grpo.reward_modes, what every layer reads
    for model in cfg["models"]:
        _check_model(cfg, model)
    _check_dimensions(cfg)
    check_sweeps(cfg)
    _check_evaluation(cfg)
    _check_published_results(cfg)
    _check_tensor_parallel(cfg)
    return cfg


def _check_tensor_parallel(cfg: dict) -> None:
    """Tensor-parallel sizes fit the GPUs their jobs request (:mod:`rlscaling.workflow.tensor_parallel`); all
    reported."""
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
        paths = {k: "/" for k in ("model_dir", "train_parquet", "val_parquet", "ckpt_dir", "rollout_dir")}
        try:
            overrides_for(cfg, model, paths)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _check_evaluation(cfg: dict) -> None:
    """Scorers suit their benchmark, pass@k names a benchmark and k <= n, validation windows fit."""
    for name, bench in cfg["benchmarks"].items():
        kind = benchmark_kind(name, bench)
        allowed = family(kind).scorer_names()
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
    if prompt_style(cfg) == "seed":
        for name, bench in cfg["benchmarks"].items():
            few = [k for k in set(bench["shots"]) | set(bench.get("shots_intermediate") or []) if k > 0]
            kind = benchmark_kind(name, bench)
            if family(kind).seed_prompt is None:
                raise ConfigError(f"benchmarks.{name}: prompts.style seed has no {family(kind).title} prompt")
            if not family(kind).seed_few_shot and few:
                raise ConfigError(
                    f"benchmarks.{name}.shots: prompts.style seed has a 0-shot {family(kind).title} prompt only ({few})"
                )


def _check_published_results(cfg: dict) -> None:
    """The configured published table exists and has the columns the comparison reads."""
    path = published_results_path(cfg)
    if path is not None:
        from rlscaling.report.seed_comparison import (
            check_published_file,  # pandas: imported only when a table is configured
        )

        try:
            check_published_file(path)
        except ValueError as exc:
            raise ConfigError(
                f"report.published_results: {exc} (the seed's published results; a relative path is read from the "
                f"workflow directory {ROOT or '(none: an installed package)'})"
            ) from None


def check_tokenizer_vocabulary(cfg: dict) -> None:
    """``tokenizer.vocab_size`` covers the pre-training corpus's byte alphabet plus the special tokens (what the
    tokenizer job would refuse). Builds the corpus (seconds), so the Snakefile calls it only before a first run."""
    from rlscaling.data.prepare import prepare_dataset
    from rlscaling.data.tokenizer import SPECIAL_TOKENS, _alphabet_size  # tokenizers: imported only before a first run

    rows = prepare_dataset(job_config(cfg, "prepare_data", dataset="pretrain_corpus"), "pretrain_corpus")
    needed = _alphabet_size([r["text"] for r in rows if r["split"] == "train"]) + len(SPECIAL_TOKENS)
    specials = len(SPECIAL_TOKENS)
    if cfg["tokenizer"]["vocab_size"] < needed:
        raise ConfigError(
            f"tokenizer.vocab_size={cfg['tokenizer']['vocab_size']} is too small for the pre-training "
            f"corpus (data.pretrain_corpus): it needs at least {needed} entries "
            f"({needed - specials} distinct bytes + {specials} special tokens)"
        )


def check_hub_ids(cfg: dict) -> str | None:
    """Before a hub study's first download, the hub knows every (id, revision) whose base-model pointer is missing
    for some seed (:func:`rlscaling.models.hub.check_hub_ids`): a :class:`ConfigError` names each unknown id and its
    config
    key; returns a warning when the hub could not be asked, else None."""
    from rlscaling.models.hub import POINTER_FILE, HubModelError  # huggingface_hub: imported only for a hub study
    from rlscaling.models.hub import check_hub_ids as ask_hub

    def fetched(model: str, budget: str) -> bool:
        return all(
            os.path.isfile(os.path.join(path(cfg, "base_model", model=model, seed=s, budget=budget), POINTER_FILE))
            for s in seeds(cfg, model)
        )

    try:
        return ask_hub(cfg, fetched)
    except HubModelError as exc:
        raise ConfigError(f"{exc}") from None
