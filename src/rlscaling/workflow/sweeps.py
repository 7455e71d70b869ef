"""Validation of ``grpo.sweeps`` (the ablations of docs/sweeps-design.md), run by the one validation
(:func:`rlscaling.workflow.config.validate_config`) after the schema, before any job starts.

A sweep is ``{key, values, models, budgets}``; the schema checks its shape, this module what the schema cannot: the
key is a sweepable GRPO setting (:func:`rlscaling.study.sweepable_keys`), each value has that setting's own schema
type and range and a path-safe text, no value repeats, ``models`` and ``budgets`` name the study's models and RL
budgets, and every variant's settings are valid GRPO settings. Each error is a :class:`rlscaling.study.ConfigError`
naming ``grpo.sweeps[i].<field>``; ``fit.variant`` must name one of the variants they make (or ``reference``).
"""

from __future__ import annotations

import jsonschema

from rlscaling.config_schema import _schema
from rlscaling.study import (
    SAFE_VALUE,
    ConfigError,
    grpo_settings,
    rl_budgets,
    sweepable_keys,
    sweeps,
    value_text,
    variant_labels,
    variants,
)
from rlscaling.training.common import GRPOSettings, check_data_budget

TRAIN = "train"
"""The RL training set as a sweep key (issue 22): named by the issue, not built yet (docs/sweeps-design.md)."""


def _value_validator(key: str) -> jsonschema.protocols.Validator:
    """A validator of one value of ``grpo.<key>``: the schema's own property (its ``$ref``s resolved in the schema)."""
    schema = _schema()
    return jsonschema.Draft202012Validator(
        {**schema["properties"]["grpo"]["properties"][key], "$defs": schema["$defs"]}
    )


def check_sweeps(cfg: dict) -> None:
    """Every ``grpo.sweeps[i]`` is valid (module docstring); the first problem raises a ConfigError naming it."""
    for i, sweep in enumerate(sweeps(cfg)):
        where = f"grpo.sweeps[{i}]"
        key = sweep["key"]
        if key == TRAIN:
            raise ConfigError(
                f"{where}.key: sweeping the RL training set ('{TRAIN}') is not supported yet (it needs MATH training "
                f"rows: docs/sweeps-design.md); sweep one of {', '.join(sweepable_keys())}"
            )
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
    _check_variant_settings(cfg)
    _check_fit_variant(cfg)


def _check_fit_variant(cfg: dict) -> None:
    """``fit.variant`` (the variant the fits, tables and figures read) names a variant of the study."""
    want = (cfg.get("fit") or {}).get("variant", "reference")
    known = variant_labels(cfg)
    if want not in known:
        raise ConfigError(f"fit.variant: '{want}' is not a variant of this study ({', '.join(known)})")


def _check_variant_settings(cfg: dict) -> None:
    """Each variant's GRPO settings, as its job builds them, are valid (a ``steps`` value against ``save_steps``), and
    its steps fit ``data.rl_train.n`` prompts x ``grpo.epochs`` (a longer-RL variant)."""
    n_prompts = cfg["data"]["rl_train"]["n"]
    for model in cfg["models"]:
        for budget in rl_budgets(cfg, model):
            for variant in variants(cfg, model, budget)[1:]:
                try:
                    settings = GRPOSettings.from_config(grpo_settings(cfg, model, variant=variant.segment), 0)
                    if n_prompts is not None:
                        check_data_budget(settings, n_prompts)
                except ValueError as exc:
                    i = next(i for i, s in enumerate(sweeps(cfg)) if s["key"] == variant.key)
                    raise ConfigError(
                        f"grpo.sweeps[{i}].values: {variant.key}={value_text(variant.value)} (model '{model}'): {exc}"
                    ) from None
