"""GPU-hours a study's GRPO runs need, from the config alone (``rlscaling gpu-hours``), per model and sweep variant.

A model is trained with GRPO once per replicate seed x RL budget x reward mode (budgets are bare token counts or
``{tokens, hf_id, revision, annealed}`` objects, see :func:`rlscaling.models.hub.parse_budget`), and once more per
sweep variant of the cell (``grpo.sweeps``, docs/sweeps-design.md). Each (model, variant) is one row, priced with
that variant's own settings (:func:`rlscaling.study.grpo_settings`): a ``steps``, ``rollouts_per_prompt`` or
``prompts_per_step`` variant costs what its settings do, and so does a ``max_prompt_tokens`` /
``max_response_tokens`` variant unless ``gpu_hours`` fixes the tokens per sequence; a ``kl_coef`` variant costs the
same as the reference while both keep the KL term on. Per run, one GRPO step processes
``S = prompts_per_step x rollouts_per_prompt`` sequences of ``T = P + G`` tokens (``P``, ``G``: assumed prompt and
response tokens per sequence; by default the configured maxima, so an upper bound).
FLOPs per step follow ``rlscaling.compute`` with ``N`` the non-embedding parameters and ``H`` the output head's
(``d_model · V``):

- rollout (vLLM generation):            ``2·(N + H)·S·T``
- policy update (forward + backward):   ``6·(N + H)·S·T`` per update epoch
- reference forward (KL, ``kl_coef > 0``): ``2·(N + H)·S·T``
- old-policy forward (verl recomputes log-probs each step): ``2·(N + H)·S·T``

Time = rollout FLOPs / (peak x ``mfu_rollout``) + other FLOPs / (peak x ``mfu_update``), in GPU-seconds; the
assumptions live in the config's ``gpu_hours`` section (defaults in :data:`DEFAULTS`). Of the evaluation, each row
counts its runs' evaluated checkpoints (a ``steps`` variant has its own:
:func:`rlscaling.workflow.plan.checkpoint_steps`) and the GPU-hours their engine starts hold (``engine_start_s`` each,
on the evaluate job's GPUs); generation itself, the base models' evaluation, validation loss and downloads are not
included; hub models cost no pre-training.

``N`` is ``models.<m>.n_params`` when the config sets it. Hub models may leave it out (the base-model job then
computes the exact ``N`` from the checkpoint's config.json, which this estimate cannot open offline); for those,
``gpu_hours.n_params_estimate.<m>`` gives the ``N`` used here, and only here. ``H`` is
``gpu_hours.head_params_estimate.<m>`` (the study's own ``H`` is counted from config.json by the base-model job);
0 is allowed where the ``N`` estimate already includes the embeddings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from rlscaling.compute import GRPOPasses, grpo_step_flops
from rlscaling.models.hub import model_budgets
from rlscaling.study import grpo_settings, job_gpus, rl_runs, variant_label
from rlscaling.workflow.plan import checkpoint_steps, checkpoints, eval_jobs, passk_jobs

DEFAULTS = {
    "gpu": "H100 SXM 80GB",
    "peak_flops_per_s": 9.89e14,  # dense bf16, FLOP/s per GPU (no structured sparsity)
    "mfu_update": 0.35,  # fraction of peak, FSDP training passes
    "mfu_rollout": 0.10,  # fraction of peak, autoregressive decoding (memory-bound)
    "prompt_tokens_per_sequence": None,  # None -> grpo.max_prompt_tokens
    "response_tokens_per_sequence": None,  # None -> grpo.max_response_tokens
    "n_params_estimate": None,  # {model: N} for models without models.<m>.n_params (estimate only)
    "head_params_estimate": None,  # {model: H = d_model x vocab} (estimate only)
    "engine_start_s": 90.0,  # seconds one evaluation job spends starting vLLM (import, weights, CUDA graphs)
}

COLUMNS = (
    "model",
    "variant",
    "n_params",
    "n_params_source",
    "head_params",
    "gpus",
    "runs",
    "steps",
    "sequences_per_step",
    "tokens_per_step",
    "flops_rollout",
    "flops_train",
    "flops_total",
    "gpu_hours_per_run",
    "gpu_hours",
    "wall_hours",
    "eval_checkpoints",
    "eval_start_gpu_hours",
)
"""Per model and variant (``reference``, ``kl_coef=0.0001``, ...: :func:`rlscaling.study.variant_label`): ``runs``
GRPO runs of ``steps`` steps each; FLOPs and ``gpu_hours`` are totals over those runs; ``gpu_hours_per_run`` is one
run; ``wall_hours`` is one run's wall-clock time on ``gpus`` GPUs; ``eval_checkpoints`` the RL checkpoints of those
runs that are evaluated (one evaluation job each) and ``eval_start_gpu_hours`` the GPU-hours their engine starts
hold (``gpu_hours.engine_start_s`` each)."""
VARIANT_COLUMNS = ("variant", "models", "runs", "gpu_hours", "eval_checkpoints", "eval_start_gpu_hours")
"""Per variant, summed over models (:func:`variant_totals`)."""


def _positive_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def assumptions(cfg: Mapping) -> dict:
    """The config's ``gpu_hours`` section over :data:`DEFAULTS`; unknown keys and bad numbers name the key."""
    section = cfg.get("gpu_hours") or {}
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"gpu_hours: unknown keys {unknown}; known: {sorted(DEFAULTS)}")
    a = {**DEFAULTS, **section}
    for key in ("peak_flops_per_s", "mfu_update", "mfu_rollout", "engine_start_s"):
        if not _positive_number(a[key]):
            raise ValueError(f"gpu_hours.{key}: expected a positive number, got {a[key]!r}")
    for key in ("mfu_update", "mfu_rollout"):
        if a[key] > 1:
            raise ValueError(f"gpu_hours.{key}: a fraction of peak in (0, 1], got {a[key]!r}")
    a["n_params_estimate"] = _estimates(cfg, a, "n_params_estimate", "N", allow_zero=False)
    a["head_params_estimate"] = _estimates(cfg, a, "head_params_estimate", "H", allow_zero=True)
    return a


def _estimates(cfg: Mapping, a: Mapping, key: str, what: str, allow_zero: bool) -> dict:
    """``gpu_hours.<key>``: a mapping from models of ``models`` to numbers (> 0, or >= 0 with ``allow_zero``)."""
    estimates = a[key] or {}
    if not isinstance(estimates, Mapping):
        raise ValueError(f"gpu_hours.{key}: expected a mapping model -> {what}, got {estimates!r}")  # noqa: TRY004 - a config error
    for model, v in estimates.items():
        if model not in cfg.get("models", {}):
            raise ValueError(f"gpu_hours.{key}.{model}: no such model in models")
        if not (_positive_number(v) or (allow_zero and v == 0 and not isinstance(v, bool))):
            kind = "a non-negative" if allow_zero else "a positive"
            raise ValueError(f"gpu_hours.{key}.{model}: expected {kind} number, got {v!r}")
    return dict(estimates)


def _tokens(a: Mapping, key: str, fallback: int) -> int:
    v = a[key] if a[key] is not None else fallback
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"gpu_hours.{key}: expected a non-negative integer, got {v!r}")
    return v


def n_params_for_estimate(cfg: Mapping, model: str, a: Mapping) -> tuple[float, str]:
    """``(N, source)``: ``models.<m>.n_params`` ("config"), else ``gpu_hours.n_params_estimate.<m>`` ("estimate")."""
    spec = cfg["models"][model]
    if "n_params" in spec:
        if not _positive_number(spec["n_params"]):
            raise ValueError(f"models.{model}.n_params: expected a positive number, got {spec['n_params']!r}")
        return float(spec["n_params"]), "config"
    if model in a["n_params_estimate"]:
        return float(a["n_params_estimate"][model]), "estimate"
    raise ValueError(
        f"models.{model}.n_params is not set (N is then computed from config.json by the pretrain job, "
        f"which this offline estimate cannot open): set gpu_hours.n_params_estimate.{model} "
        f"(or models.{model}.n_params) to estimate its GPU-hours"
    )


def head_params_for_estimate(model: str, a: Mapping) -> float:
    """``H`` (output-head parameters) of a model: ``gpu_hours.head_params_estimate.<m>``."""
    if model not in a["head_params_estimate"]:
        raise ValueError(
            f"gpu_hours.head_params_estimate.{model} is not set: the output head's parameters (hidden_size x "
            "vocab_size of the model's config.json), whose FLOPs every pass spends (rlscaling.compute); 0 when the "
            "N used here already includes the embeddings"
        )
    return float(a["head_params_estimate"][model])


def grpo_runs(cfg: Mapping, model: str, variant: str | None = None) -> int:
    """GRPO runs of a model: one per replicate seed x RL budget x reward mode, and one per sweep variant of each
    cell (:func:`rlscaling.study.rl_runs`); ``variant`` (a ``{variant}`` path segment) counts that variant's only.
    The model's budgets are checked first (ValueError naming ``models.<m>.budgets.<label>``)."""
    return sum(1 for run in _model_runs(cfg, model) if variant in (None, run.variant))


def run_variants(cfg: Mapping, model: str) -> list[str]:
    """The ``{variant}`` segments of a model's GRPO runs, the reference first, in the order of the study's runs."""
    return list(dict.fromkeys(run.variant for run in _model_runs(cfg, model)))


def _model_runs(cfg: Mapping, model: str) -> list:
    """A model's GRPO runs (:func:`rlscaling.study.rl_runs`), its budgets checked first."""
    model_budgets(cfg["models"][model], model, (cfg.get("pretrain") or {}).get("budgets"))
    return [run for run in rl_runs(dict(cfg)) if run.model == model]


def model_row(cfg: Mapping, model: str, a: Mapping, variant: str = "") -> dict:
    """One row of :func:`estimate_gpu_hours` (see :data:`COLUMNS`): a model's runs of one sweep ``variant`` (a
    ``{variant}`` path segment; ``""`` the reference runs), priced with that variant's settings."""
    n, n_source = n_params_for_estimate(cfg, model, a)
    g = grpo_settings(dict(cfg), model, variant=variant)
    if "steps" not in g:
        raise ValueError(f"grpo.steps (or models.{model}.grpo.steps): needed for the GPU-hour estimate")
    steps, seqs = int(g["steps"]), int(g["prompts_per_step"]) * int(g["rollouts_per_prompt"])
    p = _tokens(a, "prompt_tokens_per_sequence", int(g.get("max_prompt_tokens", 512)))
    r = _tokens(a, "response_tokens_per_sequence", int(g.get("max_response_tokens", 512)))
    passes = GRPOPasses(ref_forward=float(g["kl_coef"]) > 0, old_policy_forward=g.get("backend") == "verl")
    head = head_params_for_estimate(model, a)
    step = grpo_step_flops(n, seqs * p, seqs * r, passes, head_params=head)
    runs = grpo_runs(cfg, model, variant)
    rollout, train = step["rollout"] * steps, (step["total"] - step["rollout"]) * steps
    gpu_s = rollout / (a["peak_flops_per_s"] * a["mfu_rollout"]) + train / (a["peak_flops_per_s"] * a["mfu_update"])
    gpus = int(job_gpus(cfg, model, "grpo", 1))
    evaluated = len(checkpoint_steps(dict(cfg), model, variant)) * runs
    return {
        "model": model,
        "variant": variant_label(variant),
        "n_params": n,
        "n_params_source": n_source,
        "head_params": head,
        "gpus": gpus,
        "runs": runs,
        "steps": steps,
        "sequences_per_step": seqs,
        "tokens_per_step": seqs * (p + r),
        "flops_rollout": rollout * runs,
        "flops_train": train * runs,
        "flops_total": (rollout + train) * runs,
        "gpu_hours_per_run": gpu_s / 3600.0,
        "gpu_hours": gpu_s / 3600.0 * runs,
        "wall_hours": gpu_s / 3600.0 / gpus,
        "eval_checkpoints": evaluated,
        "eval_start_gpu_hours": evaluated * _evaluate_gpus(cfg, model) * a["engine_start_s"] / 3600,
    }


def _evaluate_gpus(cfg: Mapping, model: str) -> int:
    """GPUs one evaluation job of the model holds (``models.<m>.resources.evaluate.gpus``, 1 when not declared)."""
    return int(job_gpus(dict(cfg), model, "evaluate", 1) or 1)


def estimate_gpu_hours(cfg: Mapping) -> pd.DataFrame:
    """GRPO GPU-hours per model size and sweep variant (columns :data:`COLUMNS`, one row per model for a study
    without sweeps; ``wall_hours`` assumes perfect scaling over the job's GPUs), plus a ``total`` row (its
    ``wall_hours``: every run one after another). Assumptions: the config's ``gpu_hours`` section (see module
    docstring)."""
    a = assumptions(cfg)
    rows = [model_row(cfg, m, a, v) for m in cfg["models"] for v in run_variants(cfg, m)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    summed = ("flops_rollout", "flops_train", "flops_total", "gpu_hours", "runs", "eval_checkpoints")
    total = {c: frame[c].sum() for c in (*summed, "eval_start_gpu_hours")}
    total.update(
        model="total",
        variant="",
        n_params=float("nan"),
        n_params_source="",
        head_params=float("nan"),
        gpus=int(frame["gpus"].max()),
        steps=int((frame["steps"] * frame["runs"]).sum()),
        sequences_per_step=0,
        tokens_per_step=0,
        gpu_hours_per_run=float("nan"),
        wall_hours=float((frame["wall_hours"] * frame["runs"]).sum()),
    )
    return pd.concat([frame, pd.DataFrame([total], columns=list(COLUMNS))], ignore_index=True)


def variant_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per sweep variant (the reference first), an :func:`estimate_gpu_hours` table summed over models (columns
    :data:`VARIANT_COLUMNS`: ``models`` the swept models), plus the ``total`` row: what each ablation costs."""
    rows = table[table["model"] != "total"]
    out = []
    for variant, part in rows.groupby("variant", sort=False):
        out.append(
            {
                "variant": variant,
                "models": ",".join(part["model"]),
                **{c: part[c].sum() for c in ("runs", "gpu_hours", "eval_checkpoints", "eval_start_gpu_hours")},
            }
        )
    total = table[table["model"] == "total"].iloc[0]
    out.append({"variant": "total", "models": "", **{c: total[c] for c in VARIANT_COLUMNS[2:]}})
    return pd.DataFrame(out, columns=list(VARIANT_COLUMNS))


def evaluation_engine_starts(cfg: Mapping) -> dict:
    """Engine starts of the evaluation and the GPU-hours they cost, one job per file pair vs one per checkpoint.

    Evaluating each (checkpoint, benchmark, shot count[, pass@k]) in a job of its own starts the generation engine
    once per file pair; one job per checkpoint (the workflow's ``evaluate_endpoint`` / ``evaluate_intermediate``)
    starts it once per checkpoint. Each start holds the job's GPUs (``models.<m>.resources.evaluate.gpus``) for
    ``gpu_hours.engine_start_s`` seconds (an assumption, not a measurement). Returns job counts and GPU-hours.
    """
    a = assumptions(cfg)

    def gpus(model: str) -> int:
        return int(job_gpus(cfg, model, "evaluate", 1) or 1)

    per_file = [j.model for j in eval_jobs(cfg)] + [j.model for j in passk_jobs(cfg)]
    per_checkpoint = [c.model for plan in ("endpoint", "intermediate") for c in checkpoints(cfg, plan)]
    hours = {
        name: sum(gpus(m) for m in models) * a["engine_start_s"] / 3600
        for name, models in (("per_file", per_file), ("per_checkpoint", per_checkpoint))
    }
    return {
        "jobs_one_per_file": len(per_file),
        "jobs_one_per_checkpoint": len(per_checkpoint),
        "engine_start_s": a["engine_start_s"],
        "gpu_hours_one_per_file": hours["per_file"],
        "gpu_hours_one_per_checkpoint": hours["per_checkpoint"],
        "gpu_hours_saved": hours["per_file"] - hours["per_checkpoint"],
    }
