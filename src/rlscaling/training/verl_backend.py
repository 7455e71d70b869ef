"""GRPO through verl 0.9 (``python -m verl.trainer.main_ppo``): parquet data, Hydra overrides, launch, merge, log.

verl is never imported here: it lives in its own environment (``envs/verl.yaml``; it pins older transformers and
tokenizers than the rest of the stack), and rlscaling only writes its inputs, runs it as a subprocess and reads
what it leaves on disk. This module launches (and resumes) the run; its parts live in
:mod:`~rlscaling.training.verl_data` (training rows as verl's parquet), :mod:`~rlscaling.training.verl_overrides`
(the Hydra overrides, checked against verl's own config by ``.ci/verl_check.sh``) and
:mod:`~rlscaling.training.verl_outputs` (checkpoints, metrics, ``tokens.csv``, the FSDP -> HF merge), whose public
names are re-exported here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlscaling.io import write_json

from . import verl_state
from .common import GRPOSettings, check_data_budget
from .verl_data import PARQUET_COLUMNS, data_source_name, verl_rows, write_verl_parquet
from .verl_outputs import (
    TRACKER_FILE,
    VerlError,
    checkpoint_steps_on_disk,
    last_complete_step,
    merge_checkpoint,
    merge_command,
    parse_console_metrics,
    prune_incomplete_checkpoints,
    read_metrics,
    rollout_scores,
    step_record,
    write_tokens_log,
)
from .verl_overrides import (
    KL_LOSS_TYPE,
    LOSS_AGG_MODE,
    PLAIN_CHAT_TEMPLATE,
    TORCH_DTYPE,
    VERL_DEFAULTS,
    VerlSettings,
    build_overrides,
    hydra_value,
    job_cpus,
    n_gpus,
    needs_flash_attn,
    override_map,
    overrides_for,
    parse_verl_job,
    reward_module_path,
    save_freq,
    verl_knobs,
)

__all__ = [
    "KL_LOSS_TYPE",
    "LOSS_AGG_MODE",
    "PARQUET_COLUMNS",
    "PLAIN_CHAT_TEMPLATE",
    "TORCH_DTYPE",
    "TRACKER_FILE",
    "VERL_DEFAULTS",
    "VerlError",
    "VerlSettings",
    "build_overrides",
    "checkpoint_steps_on_disk",
    "data_source_name",
    "hydra_value",
    "job_cpus",
    "last_complete_step",
    "launch_grpo",
    "merge_checkpoint",
    "merge_command",
    "n_gpus",
    "needs_flash_attn",
    "override_map",
    "overrides_for",
    "parse_console_metrics",
    "parse_verl_job",
    "prune_incomplete_checkpoints",
    "read_metrics",
    "reward_module_path",
    "rollout_scores",
    "save_freq",
    "step_record",
    "verl_knobs",
    "verl_passes",
    "verl_rows",
    "write_tokens_log",
    "write_verl_parquet",
]

log = logging.getLogger(__name__)
DATA_FILES = frozenset({"train.parquet", "val.parquet"})
"""State entries written from the current settings on every launch (kept when another run's state is discarded)."""


def verl_passes(settings: GRPOSettings) -> dict[str, Any]:
    """The passes verl 0.9 performs per step besides rollout and update (``rlscaling.compute.GRPOPasses``).

    verl always recomputes the behaviour policy's log-probs in a separate forward pass (``compute_log_prob``,
    needed for its PPO ratio even with one update epoch) and runs the reference model when the KL loss is on.
    """
    return {"ref_forward": settings.kl_coef > 0, "old_policy_forward": True, "update_epochs": 1}


def launch_grpo(
    settings: GRPOSettings,
    verl: VerlSettings,
    data_source: str,
    model_dir: str,
    train_rows: Sequence[Mapping],
    out_dir: str,
    state_dir: str,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
) -> dict:
    """Train one model with GRPO through verl; writes ``step_<k>/`` (HF), ``tokens.csv`` and ``run.json``.

    verl's state (FSDP checkpoints, metrics, rollout dumps, logs) lives in ``state_dir``, outside the rule's output
    ``out_dir``: Snakemake deletes a failed job's outputs before it retries (``retries``) or reruns it
    (``--rerun-incomplete``), and the state survives that, so a preempted run resumes from its last complete FSDP
    checkpoint (``trainer.resume_mode=auto``; complete = up to the step in verl's ``latest_checkpointed_iteration.txt``,
    see :mod:`~rlscaling.training.verl_outputs`). The state is this run's only if the settings recorded in it match
    (:mod:`~rlscaling.training.verl_state`): another run's state, and whatever ``out_dir`` holds of it, is discarded
    (logged, and listed in ``run.json`` as ``discarded_state``) and training starts fresh. Once every step is merged
    to ``out_dir/step_<k>/`` and ``run.json`` is written, verl's logs are copied to ``out_dir/verl/`` and the state is
    deleted (FSDP checkpoints, about 16 bytes per parameter each, are kept only with
    ``grpo.verl.keep_fsdp_checkpoints``). ``python`` runs verl (default: this interpreter, i.e. the verl environment
    the job was started in).

    ``settings`` and ``verl``: the run's settings, parsed once by the job (:func:`parse_verl_job`);
    ``data_source``: the RL prompts' source (``data.rl_train.source``), which names the rows' ``data_source``.
    """
    out, work = Path(out_dir), Path(state_dir)
    new_state = not work.exists()
    work.mkdir(parents=True, exist_ok=True)
    python = python or sys.executable
    check_data_budget(settings, len(train_rows))
    paths = {
        "model_dir": str(model_dir),
        "train_parquet": str(work / "train.parquet"),
        "val_parquet": str(work / "val.parquet"),
        "ckpt_dir": str(work / "checkpoints"),
        "rollout_dir": str(work / "rollouts"),
    }
    overrides = build_overrides(settings, verl, paths)
    _check_tracker_written(overrides)
    _write_data(data_source, settings, train_rows, paths)
    identity = verl_state.run_identity(
        build_overrides(settings, verl, verl_state.PLACEHOLDERS), paths["train_parquet"], model_dir
    )
    key = verl_state.identity_key(identity)
    if _finished(out, settings, key):
        if new_state:  # nothing to resume: leave no state behind
            shutil.rmtree(work, ignore_errors=True)
        return json.loads((out / "run.json").read_text(encoding="utf-8"))
    discarded = _claim_state(work, out, identity, paths["ckpt_dir"])
    resumed_from = last_complete_step(paths["ckpt_dir"])
    t0 = time.time()
    if settings.save_steps[-1] not in checkpoint_steps_on_disk(paths["ckpt_dir"]):
        _train(python, overrides, work, resumed_from, env)
    _merge_outputs(settings, paths, work, out, python)
    run = {
        "backend": "verl",
        "model": verl.model,
        "settings": settings.to_dict(),
        "verl": dict(verl.knobs),
        "passes": verl_passes(settings),
        "overrides": overrides,
        "resumed_from_step": resumed_from,
        "state_key": key,
        "discarded_state": discarded,
        "wall_s": time.time() - t0,
    }
    _finish(run, work, out, paths["ckpt_dir"])
    return run


def _claim_state(work: Path, out: Path, identity: Mapping, ckpt_dir: str) -> list[str]:
    """Make ``work`` this run's state (:func:`verl_state.claim`; returns the keys that differed), delete what ``out``
    holds of another run, and delete checkpoints whose save never completed (past verl's tracker step)."""
    discarded = verl_state.claim(work, identity, keep=DATA_FILES)
    if out.exists() and (discarded or not _merged_from_state(out, work)):
        log.warning("%s holds outputs of another run: deleted", out)
        shutil.rmtree(out)
    cut = prune_incomplete_checkpoints(ckpt_dir)
    if cut:
        log.warning("checkpoints of steps %s were not completely saved (no %s): deleted", cut, TRACKER_FILE)
    return discarded


def _check_tracker_written(overrides: Sequence[str]) -> None:
    """verl writes its completion marker only without ``actor.checkpoint.async_save``: refuse to run without it."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key.lstrip("+") == "actor_rollout_ref.actor.checkpoint.async_save" and value.strip("'").lower() == "true":
            raise VerlError(
                f"grpo.verl.extra_overrides: {item} stops verl from writing {TRACKER_FILE}, so no checkpoint could "
                "count as saved and a retry could not resume; remove it"
            )


def _write_data(
    data_source: str, settings: GRPOSettings, train_rows: Sequence[Mapping], paths: Mapping[str, str]
) -> None:
    """The training parquet and the 8-row validation parquet verl's loaders read (``data_source``: the RL prompts'
    source, ``data.rl_train.source``)."""
    source = data_source_name(data_source)
    write_verl_parquet(train_rows, paths["train_parquet"], source, settings.reward_mode)
    # Never evaluated (trainer.test_freq=-1, val_before_train=False) but verl builds a validation loader anyway.
    write_verl_parquet(list(train_rows)[:8], paths["val_parquet"], source, settings.reward_mode, split="val")


def _train(python: str, overrides: Sequence[str], work: Path, resumed_from: int, env: Mapping[str, str] | None) -> None:
    """One training attempt (``verl.trainer.main_ppo``), logged to ``work/train.log``; a failure raises."""
    metrics_path = work / "metrics.jsonl"
    log_path = work / "train.log"
    run_env = {**os.environ, **(env or {}), "VERL_FILE_LOGGER_PATH": str(metrics_path)}
    cmd = [python, "-m", "verl.trainer.main_ppo", *overrides]
    if metrics_path.exists():  # verl's file logger truncates it: keep the earlier attempt's steps
        shutil.copyfile(metrics_path, work / f"metrics.{time.time_ns()}.jsonl")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# resuming after step {resumed_from}\n" if resumed_from else "# starting at step 1\n")
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=run_env, check=False).returncode
    if rc != 0:
        raise VerlError(
            f"verl.trainer.main_ppo failed (exit {rc}); see {log_path} (state kept in {work}: "
            "a rerun resumes from its last checkpoint)"
        )


def _merge_outputs(settings: GRPOSettings, paths: Mapping[str, str], work: Path, out: Path, python: str) -> None:
    """Merge every saved step not yet in ``out`` to ``out/step_<k>/`` and write ``out/tokens.csv``."""
    metrics = _all_metrics(work)
    on_disk = set(checkpoint_steps_on_disk(paths["ckpt_dir"]))
    absent = [k for k in settings.save_steps if k not in on_disk]
    if absent:
        raise VerlError(f"verl saved no checkpoint for steps {absent} under {paths['ckpt_dir']}")
    out.mkdir(parents=True, exist_ok=True)
    for k in settings.save_steps:
        if not (out / f"step_{k}" / "config.json").is_file():
            merge_checkpoint(paths["ckpt_dir"], k, out, work / "merge.log", python)
    write_tokens_log(metrics, settings.steps, settings.sequences_per_step, paths["rollout_dir"], out / "tokens.csv")


def _finish(run: dict, work: Path, out: Path, ckpt_dir: str) -> None:
    """Copy verl's logs to ``out/verl/``, write ``out/run.json`` (the run then counts as finished), delete the state
    (kept, and its FSDP checkpoints recorded in ``run``, with ``keep_fsdp_checkpoints``)."""
    keep = run["verl"]["keep_fsdp_checkpoints"]
    logs = out / "verl"
    logs.mkdir(exist_ok=True)
    for f in [work / "train.log", work / "merge.log", *sorted(work.glob("metrics*.jsonl"))]:
        if f.is_file():
            shutil.copyfile(f, logs / f.name)
    if keep:
        run["fsdp_checkpoints"] = str(ckpt_dir)
    write_json(out / "run.json", run)  # from here on the run counts as finished
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


def _finished(out: Path, settings: GRPOSettings, key: str) -> bool:
    """A previous call of this run completed: ``run.json`` (with this run's ``state_key``), ``tokens.csv`` and every
    merged ``step_<k>/`` exist."""
    if not (out / "run.json").is_file():
        return False
    try:
        same = json.loads((out / "run.json").read_text(encoding="utf-8")).get("state_key") == key
    except (json.JSONDecodeError, AttributeError):
        return False
    return (
        same
        and (out / "tokens.csv").is_file()
        and all((out / f"step_{k}" / "config.json").is_file() for k in settings.save_steps)
    )


def _merged_from_state(out: Path, work: Path) -> bool:
    """``out`` holds only merges of this state's checkpoints: no ``run.json`` (a finished run's, here another run's)
    and a state that existed before this launch (its checkpoints are what was merged)."""
    return not (out / "run.json").exists() and (work / "checkpoints").is_dir()


def _all_metrics(work: Path) -> dict[int, dict[str, float]]:
    """Metrics of every step across restarts (older copies first, so the latest run wins)."""
    merged: dict[int, dict[str, float]] = {}
    copies = sorted(work.glob("metrics.*.jsonl")) + [work / "metrics.jsonl"]
    for path in copies:
        if path.is_file():
            for step, m in read_metrics(path).items():
                merged.setdefault(step, {}).update(m)
    if not merged and (work / "train.log").is_file():
        with open(work / "train.log", encoding="utf-8", errors="replace") as fh:
            merged = parse_console_metrics(fh)
    return merged
