"""What a config implies for the DAG: the checkpoints, what each one's evaluation job writes, every job count.

Pure functions of the (validated) config, so tests compute from a config alone how many jobs a dry run must show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from rlscaling.study import BASE, CHECKPOINT, REFERENCE, cells, grpo_settings, has_variants, rl_runs, train_datasets
from rlscaling.training.common import GRPOSettings


@dataclass(frozen=True)
class EvalJob:
    """One evaluated file pair (records + summary): a checkpoint x benchmark x shots."""

    model: str
    seed: int
    budget: str
    reward: str
    step: int
    bench: str
    shots: int
    variant: str = REFERENCE


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
EVAL_RULES = {plan: f"evaluate_{plan}" for plan in PLANS}
"""The evaluation rule of each plan: one definition in workflow/rules/evaluate.smk, generated per plan."""


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


def checkpoint_steps(cfg: dict, model: str, variant: str = REFERENCE) -> list[int]:
    """RL checkpoints evaluated for a model's runs of a sweep ``variant`` (sorted, excluding 0 = the base model; the
    last step always): a ``steps`` variant has its own."""
    return list(GRPOSettings.from_config(grpo_settings(cfg, model, variant=variant), 0).save_steps)


class Checkpoint(NamedTuple):
    """One evaluated model: a cell's base model (``reward`` = ``"base"``, step 0) or a GRPO run's step (``variant``:
    the run's ``{variant}`` path segment, :data:`rlscaling.study.REFERENCE` for the base model and reference runs)."""

    model: str
    seed: int
    budget: str
    reward: str
    step: int
    variant: str = REFERENCE


def checkpoints(cfg: dict, plan: str) -> list[Checkpoint]:
    """Every checkpoint evaluated under ``plan``: base models and final RL steps (endpoint), other RL steps."""
    out = []
    if plan == "endpoint":
        out += [Checkpoint(m, s, b, BASE, 0) for m, s, b in cells(cfg)]
    for run in rl_runs(cfg):
        steps = checkpoint_steps(cfg, run.model, run.variant)
        chosen = steps[-1:] if plan == "endpoint" else steps[:-1]
        out += [Checkpoint(run.model, run.seed, run.budget, run.reward, step, run.variant) for step in chosen]
    return out


def checkpoint_id(model: str, seed: int, budget: str, reward: str, step: int, variant: str = REFERENCE) -> str:
    """The ``{checkpoint}`` wildcard of the evaluation rules: ``<model>/seed_<seed>/<budget>/<reward>/step_<k>``, with
    a sweep variant's segment before ``<reward>`` (:data:`rlscaling.study.CHECKPOINT`)."""
    return CHECKPOINT.format(model=model, seed=seed, budget=budget, reward=reward, step=step, variant=variant)


def parse_checkpoint_id(checkpoint: str) -> Checkpoint:
    """The :class:`Checkpoint` of a ``{checkpoint}`` wildcard (:func:`checkpoint_id`'s inverse)."""
    parts = checkpoint.split("/")
    variant = f"{parts.pop(3)}/" if len(parts) == 6 else REFERENCE
    model, seed, budget, reward, step = parts
    return Checkpoint(model, int(seed.removeprefix("seed_")), budget, reward, int(step.removeprefix("step_")), variant)


def checkpoint_regex(cfg: dict, plan: str) -> str:
    """Wildcard constraint matching exactly the checkpoints of ``plan`` (``(?!)`` matches nothing)."""
    ids = [re.escape(checkpoint_id(*c)) for c in checkpoints(cfg, plan)]
    return "|".join(ids) if ids else "(?!)"


def eval_jobs(cfg: dict) -> list[EvalJob]:
    """Every greedy (checkpoint, benchmark, shots) evaluated; each is one records + summary file pair."""
    return [
        EvalJob(*c[:5], it.bench, it.shots, c.variant)
        for plan in PLANS
        for c in checkpoints(cfg, plan)
        for it in eval_plan(cfg, plan)
        if not it.passk
    ]


def passk_jobs(cfg: dict) -> list[EvalJob]:
    """Every pass@k (checkpoint, benchmark, shots): the base model and the final checkpoint of every cell."""
    return [
        EvalJob(*c[:5], it.bench, it.shots, c.variant)
        for c in checkpoints(cfg, "endpoint")
        for it in eval_plan(cfg, "endpoint")
        if it.passk
    ]


def val_loss_jobs(cfg: dict) -> list:
    """Validation-loss jobs: every base model (the pre-training scaling axis), as cells."""
    if not cfg.get("val_loss"):
        return []
    return cells(cfg)


def dataset_names(cfg: dict) -> list[str]:
    """Every prepared dataset the config needs (``results/data/<name>.jsonl``); see ``rlscaling.data.prepare``."""
    names = train_datasets(cfg)  # rl_train, then rl_train_<name> of each set a train variant uses
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
    counts = {
        "prepare_data": len(dataset_names(cfg)),
        "pretrain": len(cells(cfg)),
        "pretrain_trunk": len({(c.model, c.seed) for c in cells(cfg)}) if cfg["pretrain"]["schedule"] == "wsd" else 0,
        "grpo": len(rl_runs(cfg)),
        "evaluate_endpoint": len(checkpoints(cfg, "endpoint")),
        "evaluate_intermediate": len(checkpoints(cfg, "intermediate")),
        "val_loss": len(val_loss_jobs(cfg)),
        "aggregate": 1,
        "fit": 1,
        "plots": 1,
        "report_tables": 1,
        "seed_comparison": int(cfg["report"]["published_results"] is not None),
        "variant_comparisons": int(has_variants(cfg)),
        "all": 1,
    }
    if cfg["pretrain"]["backend"] == "transformers":
        counts["train_tokenizer"] = 1
    return {k: v for k, v in counts.items() if v}
