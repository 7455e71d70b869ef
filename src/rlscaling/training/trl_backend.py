"""GRPO through TRL's ``GRPOTrainer`` (the CPU path of the ``grpo`` rule; also runs on one GPU).

Every algorithmic knob of ``GRPOConfig`` is set explicitly from :class:`GRPOSettings` (TRL 1.16's own defaults differ
from the seed study: ``loss_type="dapo"``, ``beta=0``, ``bf16=True``, gradient checkpointing on). Knobs the config
does not expose are fixed to verl's defaults so the CPU and GPU backends agree: PPO clip epsilon 0.2, rewards
standardised per group, AdamW with weight decay 0.01, constant learning rate, gradient-norm clip 1.0.

KL: TRL 1.16 (``GRPOTrainer._compute_loss``) adds ``beta * KL`` per completion token with the k3 estimator
``exp(ref - logp) - (ref - logp) - 1`` (unclamped), i.e. verl's ``low_var_kl``. TRL's default additionally multiplies
it by the importance ratio (``use_bias_correction_kl=True``), which changes the gradient even on-policy; we turn that
off to match verl and the seed study.

Outputs in ``out_dir`` (built in a temporary sibling and moved into place only when the run completes):
``step_{k}/`` (``save_pretrained`` model + tokenizer, no optimizer state), ``tokens.csv`` (see
:class:`rlscaling.training.common.StepRecord`) and ``run.json`` (effective settings, resolved ``GRPOConfig``
fields, library versions, which forward passes a step performs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rlscaling.io import atomic_dir, read_json, write_json
from rlscaling.training.common import GRPOSettings, StepRecord, TokensLog, check_data_budget
from rlscaling.training.trl_callbacks import PROMPT_TOKENS_COLUMN, RewardFn, RolloutBatch, RolloutMeter, _callbacks
from rlscaling.training.trl_config import (  # noqa: F401 (re-exported)
    CLIP_EPSILON,
    MAX_GRAD_NORM,
    SCALE_REWARDS,
    TRL_KL_ESTIMATOR,
    TRL_KL_FORMULA,
    WEIGHT_DECAY,
    build_grpo_config,
    forward_passes,
    library_versions,
    old_policy_forward,
    recorded_config,
)

RUN_FORMAT = 1

__all__ = [
    "CLIP_EPSILON",
    "MAX_GRAD_NORM",
    "PROMPT_TOKENS_COLUMN",
    "RUN_FORMAT",
    "SCALE_REWARDS",
    "TRL_KL_ESTIMATOR",
    "TRL_KL_FORMULA",
    "WEIGHT_DECAY",
    "RewardFn",
    "RolloutBatch",
    "RolloutMeter",
    "build_grpo_config",
    "completed_run",
    "forward_passes",
    "library_versions",
    "old_policy_forward",
    "recorded_config",
    "run_fingerprint",
    "run_grpo",
    "tokenize_rows",
]


def tokenize_rows(rows: Sequence[Mapping], tokenizer, max_prompt_tokens: int) -> tuple[list[dict], int]:
    """Validate ``rows`` ({"prompt": str, "answer": str}) and attach each prompt's token count; a row's
    ``reward_mode`` (its family's scorer, :func:`rlscaling.training.run.rl_rows`) is kept as the dataset column the
    reward function reads (:func:`rlscaling.rewards.make_reward_fn`), when every row has one.

    The count uses the same call TRL makes (``tokenizer(text=prompts)``), so it is exactly what TRL feeds the model.
    Prompts longer than ``max_prompt_tokens`` are dropped (TRL 1.16 has no prompt truncation); returns the kept
    rows and how many were dropped.
    """
    for i, row in enumerate(rows):
        if (
            not isinstance(row, Mapping)
            or not isinstance(row.get("prompt"), str)
            or not isinstance(row.get("answer"), str)
        ):
            raise ValueError(f"train_rows[{i}]: expected {{'prompt': str, 'answer': str}}, got {row!r:.200}")
    lengths = [len(ids) for ids in tokenizer(text=[r["prompt"] for r in rows])["input_ids"]]
    per_row = all(r.get("reward_mode") for r in rows)
    kept = [
        {"prompt": r["prompt"], "answer": r["answer"], PROMPT_TOKENS_COLUMN: n}
        | ({"reward_mode": r["reward_mode"]} if per_row else {})
        for r, n in zip(rows, lengths, strict=True)
        if n <= max_prompt_tokens
    ]
    return kept, len(rows) - len(kept)


def run_fingerprint(model_dir: str | os.PathLike, rows: Sequence[Mapping], settings: GRPOSettings) -> str:
    """SHA-256 over the settings, the base model path and the training rows: equal fingerprints, equal runs.

    The path counts relative to the working directory when it lies inside it (Snakemake's workdir), so the same run
    in another copy of the workdir has the same fingerprint (and ``run.json`` the same bytes)."""
    path = Path(model_dir).resolve()
    try:
        shown = str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    payload = json.dumps(
        {
            "format": RUN_FORMAT,
            "settings": settings.to_dict(),
            "model_dir": shown,
            "rows": [[r.get("prompt"), r.get("answer")] for r in rows],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def completed_run(out_dir: str | os.PathLike, fingerprint: str) -> dict | None:
    """The ``run.json`` of a finished run with this fingerprint in ``out_dir``, else None."""
    path = Path(out_dir) / "run.json"
    if not path.is_file():
        return None
    try:
        run = read_json(path)
    except (OSError, ValueError):
        return None
    return run if run.get("complete") and run.get("fingerprint") == fingerprint else None


def _remove_stale_tmp_dirs(out_dir: Path) -> None:
    """Delete leftovers of killed runs: ``atomic_dir`` temporaries named ``.<out_dir name>.tmp-*``."""
    if out_dir.parent.is_dir():
        for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


def run_grpo(
    model_dir: str | os.PathLike,
    train_rows: list[dict],
    settings: GRPOSettings,
    out_dir: str | os.PathLike,
    threads: int = 1,
    *,
    reward_fn: RewardFn | None = None,
) -> dict:
    """Train ``model_dir`` with GRPO on ``train_rows`` ({"prompt", "answer"}) and write ``out_dir``; returns run.json.

    Rewards come from ``rlscaling.rewards.make_reward_fn(settings.reward_mode)`` unless ``reward_fn`` is given
    (tests). A completed run with the same fingerprint in ``out_dir`` is returned as is; an incomplete one is redone
    from scratch. ``threads`` sets torch's intra-op threads.
    """
    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    fingerprint = run_fingerprint(model_dir, train_rows, settings)
    done = completed_run(out_dir, fingerprint)
    if done is not None:
        return done
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads: expected a positive integer, got {threads!r}")
    if settings.backend != "trl":
        raise ValueError(f"grpo.backend={settings.backend!r}: run_grpo is the 'trl' backend")
    if reward_fn is None:
        from rlscaling.rewards import make_reward_fn

        reward_fn = make_reward_fn(settings.reward_mode)
    torch.set_num_threads(threads)
    start = time.perf_counter()

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    rows, n_dropped = tokenize_rows(train_rows, tokenizer, settings.max_prompt_tokens)
    steps_per_epoch = check_data_budget(settings, len(rows))
    use_cpu = not torch.cuda.is_available()

    _remove_stale_tmp_dirs(out_dir)
    with atomic_dir(out_dir) as run_dir:
        cfg = build_grpo_config(settings, run_dir / "_trainer", use_cpu=use_cpu)
        records = _train(model_dir, cfg, rows, tokenizer, reward_fn, run_dir, settings)
        shutil.rmtree(run_dir / "_trainer", ignore_errors=True)
        missing = [k for k in settings.save_steps if not (run_dir / f"step_{k}").is_dir()]
        if missing:
            raise RuntimeError(f"checkpoints for steps {missing} were not written")
        run = {
            "complete": True,
            "backend": "trl",
            "fingerprint": fingerprint,
            "settings": settings.to_dict(),
            "model_dir": str(model_dir),
            "n_train_rows": len(train_rows),
            "n_dropped_overlong_prompts": n_dropped,
            "steps_per_epoch": steps_per_epoch,
            "saved_steps": list(settings.save_steps),
            **_trainer_record(cfg, records, use_cpu, threads, start),
        }
        write_json(run_dir / "run.json", run)
    return run


def _train(
    model_dir: str | os.PathLike,
    cfg,
    rows: list[dict],
    tokenizer,
    reward_fn: RewardFn,
    run_dir: Path,
    settings: GRPOSettings,
) -> list[StepRecord]:
    """Run ``GRPOTrainer`` on ``rows``, writing ``run_dir/tokens.csv`` and ``run_dir/step_{k}/``; returns the
    per-step records (exactly ``settings.steps`` of them, else it raises)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    meter = RolloutMeter(reward_fn)
    with TokensLog(run_dir / "tokens.csv") as log:
        trainer = GRPOTrainer(
            model=str(model_dir),
            reward_funcs=meter,
            args=cfg,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            callbacks=_callbacks(meter, log, run_dir, settings.save_steps, tokenizer, settings.steps),
        )
        trainer.remove_callback(PrinterCallback)  # it prints every step's ~30 metrics; our bar shows 2
        with warnings.catch_warnings():  # transformers 5.x renaming notices raised inside TRL, once per step
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            trainer.train()
        if len(log.records) != settings.steps:
            raise RuntimeError(f"trained {len(log.records)} steps, expected grpo.steps={settings.steps}")
    return log.records


def _trainer_record(cfg, records: Sequence[StepRecord], use_cpu: bool, threads: int, start: float) -> dict[str, Any]:
    """The run.json fields about how the run trained: passes, KL, resolved ``GRPOConfig``, versions, device, token
    totals, and ``wall_s`` (seconds since ``start``, a ``time.perf_counter()`` reading)."""
    return {
        "passes": forward_passes(cfg),
        "kl_estimator": TRL_KL_ESTIMATOR,
        "kl_formula": TRL_KL_FORMULA,
        "grpo_config": recorded_config(cfg),
        "versions": library_versions(),
        "device": "cpu" if use_cpu else "cuda",
        "threads": threads,
        "total_prompt_tokens": sum(r.prompt_tokens for r in records),
        "total_completion_tokens": sum(r.completion_tokens for r in records),
        "wall_s": time.perf_counter() - start,
    }
