"""Backend-neutral pieces of GRPO training: validated settings from the ``grpo:`` config section, the tokens log.

Both backends (``trl_backend`` on CPU, ``verl_backend`` on GPU) read the same config keys through
:class:`GRPOSettings` and write the same ``tokens.csv`` through :class:`TokensLog`, from which ``rlscaling.compute``
derives ``C_rl``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rlscaling.config_schema import _schema
from rlscaling.io import atomic_open
from rlscaling.study import grpo_settings
from rlscaling.tasks import reward_modes

# Per-token KL estimators (Schulman 2020, r = pi_ref / pi_theta): k1 = -log r, k2 = (log r)^2 / 2,
# k3 = r - log r - 1 (the "low variance" one; verl calls it "low_var_kl").
KL_ESTIMATORS = ("k1", "k2", "k3")
KL_ESTIMATOR_ALIASES = {"low_var_kl": "k3"}
# Loss aggregations both backends implement: "grpo" = mean over a sequence's tokens, then over sequences
# (verl "seq-mean-token-mean"); "dapo" = mean over all tokens of the batch (verl "token-mean");
# "dr_grpo" = sum over tokens / (batch x max_response_tokens) (verl "seq-mean-token-sum-norm").
LOSS_TYPES = ("grpo", "dapo", "dr_grpo")
BACKENDS = ("trl", "verl")
PRECISIONS = ("fp32", "bf16")


def _schema_defaults() -> dict[str, Any]:
    """Defaults of the optional ``grpo`` keys: the config schema's ``default:`` values (the one place they live)."""
    props = _schema()["properties"]["grpo"]["properties"]
    study_level = ("reward_modes", "budgets")  # DAG dimensions: one run gets one reward_mode, no budget list
    out = {k: v["default"] for k, v in props.items() if "default" in v and k not in study_level}
    return {"save_steps": None, "save_every": None, "verl": None, **out}


_DEFAULTS: dict[str, Any] = _schema_defaults()
_REQUIRED = (
    "backend",
    "reward_mode",
    "rollouts_per_prompt",
    "prompts_per_step",
    "steps",
    "lr",
    "kl_coef",
    "kl_estimator",
)
_KNOWN_KEYS = frozenset(_REQUIRED) | frozenset(_DEFAULTS)


def _int(section: Mapping, key: str, minimum: int) -> int:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"grpo.{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def _float(section: Mapping, key: str, minimum: float, inclusive: bool) -> float:
    value = section[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= minimum if inclusive else value > minimum)
    if not ok:
        bound = ">=" if inclusive else ">"
        raise ValueError(f"grpo.{key}: expected a finite number {bound} {minimum}, got {value!r}")
    return float(value)


def _choice(section: Mapping, key: str, allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> str:
    value = section[key]
    value = (aliases or {}).get(value, value)
    if value not in allowed:
        names = list(allowed) + list(aliases or {})
        raise ValueError(f"grpo.{key}: unknown value {section[key]!r}; expected one of {names}")
    return value


def _resolve_save_steps(section: Mapping, steps: int) -> tuple[int, ...]:
    """Optimizer steps to checkpoint: ``save_steps`` (or every ``save_every``-th step), always with the final step."""
    if section["save_steps"] is not None and section["save_every"] is not None:
        raise ValueError("grpo: set either save_steps or save_every, not both")
    if section["save_steps"] is not None:
        raw = section["save_steps"]
        if not isinstance(raw, (list, tuple)) or not raw:
            raise ValueError(f"grpo.save_steps: expected a non-empty list of steps, got {raw!r}")
        chosen = set()
        for s in raw:
            if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= steps:
                raise ValueError(f"grpo.save_steps: step {s!r} is outside 1..grpo.steps={steps}")
            chosen.add(s)
    elif section["save_every"] is not None:
        every = _int(section, "save_every", 1)
        chosen = set(range(every, steps + 1, every))
    else:
        chosen = set()
    return tuple(sorted(chosen | {steps}))


@dataclass(frozen=True)
class GRPOSettings:
    """Effective GRPO settings, validated. Token lengths are in tokens; ``lr`` is the constant AdamW learning rate.

    One optimizer step consumes ``prompts_per_step`` prompts x ``rollouts_per_prompt`` sampled responses.
    ``save_steps`` always contains ``steps`` (the final model is always saved). ``epochs`` caps how many passes
    over the training prompts ``steps`` may take. ``kl_estimator`` is canonical (``low_var_kl`` -> ``k3``).
    """

    reward_mode: str
    rollouts_per_prompt: int
    prompts_per_step: int
    steps: int
    save_steps: tuple[int, ...]
    lr: float
    kl_coef: float
    kl_estimator: str
    loss_type: str
    temperature: float
    max_prompt_tokens: int
    max_response_tokens: int
    epochs: int
    precision: str
    gradient_checkpointing: bool
    seed: int
    backend: str = "trl"

    @classmethod
    def from_config(cls, section: Mapping, seed: int) -> GRPOSettings:
        """Validate the ``grpo:`` config section (one model's, overrides applied); bad values name their key."""
        if not isinstance(section, Mapping):
            raise ValueError(f"grpo: expected a mapping, got {type(section).__name__}")
        unknown = sorted(set(section) - _KNOWN_KEYS)
        if unknown:
            raise ValueError(f"grpo: unknown keys {unknown}; known keys are {sorted(_KNOWN_KEYS)}")
        missing = [k for k in _REQUIRED if k not in section]
        if missing:
            raise ValueError(f"grpo: missing required keys {missing}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed: expected an integer, got {seed!r}")
        s = {**_DEFAULTS, **section}
        steps = _int(s, "steps", 1)
        if not isinstance(s["gradient_checkpointing"], bool):
            raise ValueError(f"grpo.gradient_checkpointing: expected true/false, got {s['gradient_checkpointing']!r}")
        if s["verl"] is not None and not isinstance(s["verl"], Mapping):
            raise ValueError(f"grpo.verl: expected a mapping of verl-only overrides, got {s['verl']!r}")
        return cls(
            reward_mode=_choice(s, "reward_mode", reward_modes()),
            rollouts_per_prompt=_int(s, "rollouts_per_prompt", 2),
            prompts_per_step=_int(s, "prompts_per_step", 1),
            steps=steps,
            save_steps=_resolve_save_steps(s, steps),
            lr=_float(s, "lr", 0.0, inclusive=False),
            kl_coef=_float(s, "kl_coef", 0.0, inclusive=True),
            kl_estimator=_choice(s, "kl_estimator", KL_ESTIMATORS, KL_ESTIMATOR_ALIASES),
            loss_type=_choice(s, "loss_type", LOSS_TYPES),
            temperature=_float(s, "temperature", 0.0, inclusive=False),
            max_prompt_tokens=_int(s, "max_prompt_tokens", 1),
            max_response_tokens=_int(s, "max_response_tokens", 1),
            epochs=_int(s, "epochs", 1),
            precision=_choice(s, "precision", PRECISIONS),
            gradient_checkpointing=s["gradient_checkpointing"],
            seed=seed,
            backend=_choice(s, "backend", BACKENDS),
        )

    @property
    def sequences_per_step(self) -> int:
        """Sampled responses per optimizer step: prompts_per_step x rollouts_per_prompt."""
        return self.prompts_per_step * self.rollouts_per_prompt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``save_steps`` as a list)."""
        d = asdict(self)
        d["save_steps"] = list(self.save_steps)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GRPOSettings:
        """Inverse of :meth:`to_dict` (no re-validation: the dict came from a validated instance)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "save_steps" else v) for k, v in d.items() if k in names})


def job_grpo_settings(cfg: Mapping, model: str) -> GRPOSettings:
    """One model's :class:`GRPOSettings` from a config or a GRPO job's settings: ``grpo`` with
    ``models.<model>.grpo`` applied (:func:`rlscaling.study.grpo_settings`; a job's settings hold them applied
    already), seeded with the top-level ``seed`` (a job's: the cell's). The one place a GRPO run's settings are
    parsed: once per job, at its boundary (:func:`rlscaling.training.run.run_grpo_job`)."""
    return GRPOSettings.from_config(grpo_settings(dict(cfg), model), int(cfg.get("seed", 0)))


def check_data_budget(settings: GRPOSettings, n_prompts: int) -> int:
    """Full batches of prompts per epoch; raises if ``steps`` would need more than ``epochs`` passes over the data."""
    per_epoch = n_prompts // settings.prompts_per_step
    if per_epoch == 0:
        raise ValueError(
            f"only {n_prompts} usable training prompts, fewer than grpo.prompts_per_step={settings.prompts_per_step}"
        )
    if settings.steps > per_epoch * settings.epochs:
        raise ValueError(
            f"grpo.steps={settings.steps} needs {math.ceil(settings.steps / per_epoch)} passes over "
            f"{n_prompts} prompts ({per_epoch} steps per epoch), more than grpo.epochs={settings.epochs}"
        )
    return per_epoch


TOKENS_COLUMNS = (
    "step",
    "prompt_tokens",
    "completion_tokens",
    "n_sequences",
    "reward_mean",
    "reward_std",
    "kl",
    "wall_s",
)


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step of ``tokens.csv``.

    ``prompt_tokens`` / ``completion_tokens``: non-pad tokens summed over all ``n_sequences`` sampled sequences
    (each rollout counts its prompt; completions up to and including EOS). ``reward_mean`` / ``reward_std``: mean and
    population std of the step's rewards. ``kl``: mean over the step's completion tokens of the KL estimate between the
    policy (before this step's update) and the reference model (None when no KL term is used).
    ``wall_s``: wall-clock seconds of the step (generation, scoring, reference forward and update).
    """

    step: int
    prompt_tokens: int
    completion_tokens: int
    n_sequences: int
    reward_mean: float
    reward_std: float
    kl: float | None
    wall_s: float

    def as_row(self) -> list:
        return ["" if v is None else v for v in (getattr(self, c) for c in TOKENS_COLUMNS)]


class TokensLog:
    """Per-step token log: rows are flushed to ``<path>.partial`` as they come, ``path`` is written atomically
    on :meth:`close`. Use as a context manager; on an exception the ``.partial`` file is left for inspection."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        self.records: list[StepRecord] = []
        self._fh = open(self.partial_path, "w", encoding="utf-8")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(TOKENS_COLUMNS)
        self._fh.flush()

    def append(self, record: StepRecord) -> None:
        """Add one step; steps must strictly increase."""
        if self.records and record.step <= self.records[-1].step:
            raise ValueError(f"tokens log: step {record.step} after step {self.records[-1].step}")
        self.records.append(record)
        self._writer.writerow(record.as_row())
        self._fh.flush()

    def close(self) -> Path:
        """Write ``path`` atomically, remove the ``.partial`` file, return ``path``."""
        self._fh.close()
        with atomic_open(self.path) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(TOKENS_COLUMNS)
            writer.writerows(r.as_row() for r in self.records)
        self.partial_path.unlink(missing_ok=True)
        return self.path

    def __enter__(self) -> TokensLog:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._fh.close()


def read_tokens_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``tokens.csv`` as dicts with typed values (``kl`` None where empty); bad rows name file:line."""
    out: list[dict[str, Any]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != TOKENS_COLUMNS:
            raise ValueError(f"{path}: header {reader.fieldnames} != {list(TOKENS_COLUMNS)}")
        for lineno, row in enumerate(reader, start=2):
            try:
                out.append(
                    {
                        "step": int(row["step"]),
                        "prompt_tokens": int(row["prompt_tokens"]),
                        "completion_tokens": int(row["completion_tokens"]),
                        "n_sequences": int(row["n_sequences"]),
                        "reward_mean": float(row["reward_mean"]),
                        "reward_std": float(row["reward_std"]),
                        "kl": float(row["kl"]) if row["kl"] != "" else None,
                        "wall_s": float(row["wall_s"]),
                    }
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: malformed tokens row ({exc})") from None
    return out
