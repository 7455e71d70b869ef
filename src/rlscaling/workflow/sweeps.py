"""Validation of ``grpo.sweeps`` (the ablations of docs/sweeps-design.md), run by the one validation
(:func:`rlscaling.workflow.config.validate_config`) after the schema, before any job starts.

A sweep is ``{key, values, models, budgets}``; the schema checks its shape, this module what the schema cannot: the
key is a sweepable GRPO setting (:func:`rlscaling.study.sweepable_keys`), each value has that setting's own schema
type and range and a path-safe text (a ``train`` value names known RL training sets, each once: :func:`check_train_sets`
and the named sets), no value repeats, ``models`` and ``budgets`` name the study's models and RL
budgets, and every variant's settings are valid GRPO settings. Each error is a :class:`rlscaling.study.ConfigError`
naming ``grpo.sweeps[i].<field>``; ``fit.variant`` must name one of the variants they make (or ``reference``).
"""

from __future__ import annotations

import jsonschema

from rlscaling.config_schema import _schema
from rlscaling.data.sources import parse_spec
from rlscaling.study import (
    JOIN,
    SAFE_VALUE,
    TRAIN,
    ConfigError,
    grpo_settings,
    reference_train,
    rl_budgets,
    run_train,
    sweep_values,
    sweepable_keys,
    sweeps,
    train_names,
    train_sets,
    value_text,
    variant_label,
    variant_labels,
    variants,
)
from rlscaling.training.common import GRPOSettings, check_data_budget


def _value_validator(key: str) -> jsonschema.protocols.Validator:
    """A validator of one value of ``grpo.<key>``: the schema's own property (its ``$ref``s resolved in the schema)."""
    schema = _schema()
    return jsonschema.Draft202012Validator(
        {**schema["properties"]["grpo"]["properties"][key], "$defs": schema["$defs"]}
    )


def check_sweeps(cfg: dict) -> None:
    """Every ``grpo.sweeps[i]`` is valid (module docstring); the first problem raises a ConfigError naming it."""
    check_train_sets(cfg)
    for i, sweep in enumerate(sweeps(cfg)):
        where = f"grpo.sweeps[{i}]"
        key = sweep["key"]
        if key not in sweepable_keys():
            raise ConfigError(
                f"{where}.key: '{key}' is not a GRPO setting a sweep can vary ({', '.join(sweepable_keys())})"
            )
        validator = _value_validator(key)
        seen = set()
        for j, value in enumerate(sweep["values"]):
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            if error is not None:
                raise ConfigError(f"{where}.values[{j}]: {value!r} is not a valid grpo.{key}: {error.message}")
            text = value_text(value)
            if not SAFE_VALUE.fullmatch(text):
                raise ConfigError(f"{where}.values[{j}]: {value!r} names a path segment; use letters, digits, _.+-")
            if text in seen:
                raise ConfigError(f"{where}.values: {value!r} appears twice")
            seen.add(text)
            if key == TRAIN:
                _check_train_value(cfg, f"{where}.values[{j}]", value)
        _check_with(sweep, where)
        unknown = [m for m in sweep.get("models") or [] if m not in cfg["models"]]
        if unknown:
            raise ConfigError(f"{where}.models: {unknown} are not models of the study ({sorted(cfg['models'])})")
        swept = sweep.get("models") or list(cfg["models"])
        known = {b for m in swept for b in rl_budgets(cfg, m)}
        unknown = [b for b in sweep.get("budgets") or [] if b not in known]
        if unknown:
            raise ConfigError(
                f"{where}.budgets: {unknown} are not RL budgets (grpo.budgets) of {swept}: {sorted(known)}"
            )
    _check_shared_segments(cfg)
    _check_variant_settings(cfg)
    _check_fit_variant(cfg)


def _check_fit_variant(cfg: dict) -> None:
    """``fit.variant`` (the variant the fits, tables and figures read) names a variant of the study."""
    want = (cfg.get("fit") or {}).get("variant", "reference")
    known = variant_labels(cfg)
    if want not in known:
        raise ConfigError(f"fit.variant: '{want}' is not a variant of this study ({', '.join(known)})")


def _check_with(sweep: dict, where: str) -> None:
    """A sweep's companion settings (``with``): sweepable GRPO keys other than the swept one (and not ``train``: the
    data is a sweep of its own), each value of its setting's schema type."""
    for name, value in (sweep.get("with") or {}).items():
        if name not in sweepable_keys() or name in (sweep["key"], TRAIN):
            raise ConfigError(
                f"{where}.with.{name}: not a companion setting of a '{sweep['key']}' sweep; use another GRPO setting "
                f"({', '.join(k for k in sweepable_keys() if k not in (sweep['key'], TRAIN))})"
            )
        error = jsonschema.exceptions.best_match(_value_validator(name).iter_errors(value))
        if error is not None:
            raise ConfigError(f"{where}.with.{name}: {value!r} is not a valid grpo.{name}: {error.message}")


def _check_shared_segments(cfg: dict) -> None:
    """A variant two sweeps of one key both name takes the same companion settings from each (else which applies is
    ambiguous)."""
    seen: dict[str, tuple[int, dict]] = {}
    for i, _, variant in sweep_values(cfg):
        label, also = variant_label(variant.segment), variant.also or {}
        if label in seen and seen[label][1] != also:
            raise ConfigError(
                f"grpo.sweeps[{i}].with: {label} is also a value of grpo.sweeps[{seen[label][0]}] with other "
                f"companion settings ({seen[label][1]} vs {also}); give both sweeps the same `with`"
            )
        seen.setdefault(label, (i, also))


def check_train_sets(cfg: dict) -> None:
    """The named RL training sets: the reference set's name (``grpo.train``, default ``data.rl_train.kind``) is one
    name and no set of ``data.rl_train_sets`` takes it; a set in a procedural source's MATH format (``format=math``)
    is of ``kind: math``, and only GSM8K sets take ``instruction`` (another family's prompt asks for its answer format
    itself)."""
    for name, spec in (cfg["data"].get("rl_train_sets") or {}).items():
        _check_train_set(f"data.rl_train_sets.{name}", spec)
    _check_train_set("data.rl_train", cfg["data"]["rl_train"])
    reference = reference_train(cfg)
    if JOIN in reference:
        raise ConfigError(f"grpo.train: '{reference}' joins sets; the reference set is data.rl_train, one name")
    if reference in (cfg["data"].get("rl_train_sets") or {}):
        raise ConfigError(
            f"data.rl_train_sets.{reference}: '{reference}' names the reference set, data.rl_train (grpo.train, "
            f"default data.rl_train.kind); give this set another name or grpo.train another value"
        )


def _check_train_set(key: str, spec: dict) -> None:
    kind = spec.get("kind", "gsm8k")
    procedural = str(spec["source"]).startswith("procedural:")
    if procedural and parse_spec(spec["source"])[2].get("format") == "math" and kind != "math":
        raise ConfigError(f"{key}.kind: {spec['source']!r} writes MATH-format records; set kind: math (not {kind})")
    if spec.get("instruction") and kind != "gsm8k":
        raise ConfigError(f"{key}.instruction: only GSM8K sets take verl's GSM8K instruction (this one is {kind})")


def _check_train_value(cfg: dict, where: str, value) -> None:
    """A ``train`` sweep value names known sets (:func:`rlscaling.study.train_sets`), each once."""
    names = train_names(value)
    unknown = [n for n in names if n not in train_sets(cfg)]
    if unknown:
        raise ConfigError(
            f"{where}: {value!r} names no RL training set {unknown}; the sets are {', '.join(train_sets(cfg))} "
            f"(data.rl_train is '{reference_train(cfg)}'; more in data.rl_train_sets)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: {value!r} joins a set twice")


def _n_prompts(cfg: dict, variant: str) -> int | None:
    """The RL prompts a variant's run reads: the sum of its sets' ``n`` (None when one of them takes its whole
    source)."""
    sizes = [train_sets(cfg)[name]["n"] for name in run_train(cfg, variant)]
    return None if None in sizes else sum(sizes)


def _check_variant_settings(cfg: dict) -> None:
    """Each variant's GRPO settings, as its job builds them, are valid (a ``steps`` value against ``save_steps``), and
    its steps fit its training set's prompts (:func:`_n_prompts`) x ``grpo.epochs`` (a longer-RL variant, a smaller
    set)."""
    for model in cfg["models"]:
        for budget in rl_budgets(cfg, model):
            for variant in variants(cfg, model, budget)[1:]:
                n_prompts = _n_prompts(cfg, variant.segment)
                try:
                    settings = GRPOSettings.from_config(grpo_settings(cfg, model, variant=variant.segment), 0)
                    if n_prompts is not None:
                        check_data_budget(settings, n_prompts)
                except ValueError as exc:
                    i = next(i for i, s in enumerate(sweeps(cfg)) if s["key"] == variant.key)
                    raise ConfigError(
                        f"grpo.sweeps[{i}].values: {variant.key}={value_text(variant.value)} (model '{model}'): {exc}"
                    ) from None
