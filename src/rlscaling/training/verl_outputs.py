"""What verl leaves on disk: FSDP checkpoints, per-step metrics, rollout dumps; ``tokens.csv`` and the HF merge.

Logging. ``trainer.logger=['console','file']``: verl's file logger writes one JSON line per step
(``{"step": k, "data": {metric: value}}``) to ``$VERL_FILE_LOGGER_PATH``, and ``trainer.rollout_data_dir`` dumps
every step's sampled responses with their rewards (``<step>.jsonl``). ``tokens.csv`` is derived from both; see
:func:`step_record`. Checkpoints are verl's FSDP shards (``global_step_<N>/actor/``), merged to Hugging Face format
by ``verl.model_merger`` (:func:`merge_checkpoint`).

Completion. verl 0.9.1's ``RayPPOTrainer._save_checkpoint`` saves the actor's shards to ``global_step_<N>/actor/``,
then the dataloader state to ``global_step_<N>/data.pt``, and only then writes ``N`` to
:data:`TRACKER_FILE` in ``trainer.default_local_dir`` (skipped when ``actor.checkpoint.async_save`` is on); its
``find_latest_ckpt_path`` resumes from the step the tracker names (no tracker: from scratch). A
``global_step_<N>/`` past that step is a save that was cut off: :func:`checkpoint_steps_on_disk` never counts it and
:func:`prune_incomplete_checkpoints` deletes it before a relaunch, which redoes the steps after the tracker's.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rlscaling.io import atomic_dir

from .common import StepRecord, TokensLog


class VerlError(RuntimeError):
    """verl failed, or left outputs rlscaling cannot read; the message names the file or command."""


TRACKER_FILE = "latest_checkpointed_iteration.txt"
"""verl's completion marker in ``trainer.default_local_dir``: the step of the last checkpoint whose save finished."""


def last_complete_step(ckpt_dir: str | os.PathLike) -> int:
    """The step in verl's :data:`TRACKER_FILE` under ``ckpt_dir``: 0 when it is absent or unreadable (verl itself
    fails on an unreadable one: :func:`prune_incomplete_checkpoints` removes it)."""
    try:
        text = (Path(ckpt_dir) / TRACKER_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return int(text) if text.isdigit() else 0


def _step_dirs(ckpt_dir: str | os.PathLike) -> dict[int, Path]:
    """``{N: global_step_<N>/}`` under ``ckpt_dir`` (any state of completion)."""
    root = Path(ckpt_dir)
    if not root.is_dir():
        return {}
    out = {}
    for child in root.iterdir():
        m = re.fullmatch(r"global_step_(\d+)", child.name)
        if m and child.is_dir():
            out[int(m.group(1))] = child
    return out


def checkpoint_steps_on_disk(ckpt_dir: str | os.PathLike) -> list[int]:
    """Steps with a complete checkpoint under verl's ``default_local_dir``: ``global_step_<N>/actor/`` exists and
    ``N`` is at most the step in :data:`TRACKER_FILE` (verl saves in step order and writes the tracker last)."""
    last = last_complete_step(ckpt_dir)
    return sorted(n for n, d in _step_dirs(ckpt_dir).items() if n <= last and (d / "actor").is_dir())


def prune_incomplete_checkpoints(ckpt_dir: str | os.PathLike) -> list[int]:
    """Delete every ``global_step_<N>/`` past the tracker's step (a save cut off by a kill) and an unreadable
    :data:`TRACKER_FILE` (then every step counts as incomplete); returns the deleted steps, sorted."""
    tracker = Path(ckpt_dir) / TRACKER_FILE
    if tracker.is_file() and not tracker.read_text(encoding="utf-8").strip().isdigit():
        tracker.unlink()
    last = last_complete_step(ckpt_dir)
    stale = sorted(n for n in _step_dirs(ckpt_dir) if n > last)
    for n in stale:
        shutil.rmtree(Path(ckpt_dir) / f"global_step_{n}")
    return stale


def read_metrics(path: str | os.PathLike) -> dict[int, dict[str, float]]:
    """verl's file-logger JSONL -> ``{step: metrics}``; a resumed run's later line for a step wins.

    Malformed lines raise ``VerlError`` naming file and line (a truncated last line, from a killed run, is skipped).
    """
    out: dict[int, dict[str, float]] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            step, data = int(obj["step"]), dict(obj["data"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if lineno == len(lines):
                continue
            raise VerlError(f"{path}:{lineno}: not a verl metrics line ({exc})") from None
        out.setdefault(step, {}).update(data)
    return out


_CONSOLE_STEP = re.compile(r"step:(\d+) - (.*)$")


def parse_console_metrics(lines: Iterable[str]) -> dict[int, dict[str, float]]:
    """verl's console logger lines (``step:3 - key:value - key:value``) -> ``{step: metrics}`` (fallback reader)."""
    out: dict[int, dict[str, float]] = {}
    for line in lines:
        m = _CONSOLE_STEP.search(line.rstrip("\n"))
        if not m:
            continue
        metrics = {}
        for item in m.group(2).split(" - "):
            key, sep, value = item.rpartition(":")
            if not sep:
                continue
            try:
                metrics[key.strip()] = float(value)
            except ValueError:
                continue
        out.setdefault(int(m.group(1)), {}).update(metrics)
    return out


def rollout_scores(path: str | os.PathLike) -> list[float]:
    """Rewards of one step's sampled responses from verl's rollout dump ``<rollout_data_dir>/<step>.jsonl``."""
    scores = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                scores.append(float(json.loads(line)["score"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise VerlError(f"{path}:{lineno}: no numeric 'score' ({exc})") from None
    return scores


def _first(metrics: Mapping[str, float], keys: Sequence[str], step: int) -> float:
    for key in keys:
        if key in metrics:
            return float(metrics[key])
    raise VerlError(f"verl metrics of step {step} lack all of {list(keys)}; got {sorted(metrics)[:12]}...")


def step_record(
    step: int, metrics: Mapping[str, float], n_sequences: int, scores: Sequence[float] | None
) -> StepRecord:
    """One ``tokens.csv`` row from verl's metrics for a step.

    - ``prompt_tokens`` = ``prompt_length/mean`` x ``n_sequences`` and ``completion_tokens`` =
      ``response_length/mean`` x ``n_sequences`` (verl averages non-pad lengths over every sampled sequence; each
      rollout counts its prompt), rounded to whole tokens;
    - ``reward_mean`` / ``reward_std`` from the step's rollout dump (population std); without a dump, the mean is
      ``critic/score/mean`` and the std is NaN;
    - ``kl``: ``actor/kl_loss`` (the low-variance KL estimate, mean per token), None when absent;
    - ``wall_s``: ``timing_s/step`` (seconds).
    """
    prompt_mean = _first(metrics, ("prompt_length/mean",), step)
    response_mean = _first(metrics, ("response_length/mean",), step)
    if scores:
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((x - mean) ** 2 for x in scores) / len(scores))
    else:
        mean, std = _first(metrics, ("critic/score/mean", "critic/rewards/mean"), step), float("nan")
    kl = next((float(metrics[k]) for k in ("actor/kl_loss", "kl_loss") if k in metrics), None)
    return StepRecord(
        step=step,
        prompt_tokens=int(round(prompt_mean * n_sequences)),
        completion_tokens=int(round(response_mean * n_sequences)),
        n_sequences=n_sequences,
        reward_mean=mean,
        reward_std=std,
        kl=kl,
        wall_s=_first(metrics, ("timing_s/step", "perf/time_per_step"), step),
    )


def write_tokens_log(
    metrics: Mapping[int, Mapping[str, float]],
    steps: int,
    n_sequences: int,
    rollout_dir: str | os.PathLike,
    out_path: str | os.PathLike,
) -> Path:
    """Write ``tokens.csv`` for steps 1..``steps``; a step missing from verl's metrics raises ``VerlError``."""
    missing = [k for k in range(1, steps + 1) if k not in metrics]
    if missing:
        raise VerlError(f"verl metrics lack steps {missing[:10]} (of 1..{steps}); cannot account C_rl")
    with TokensLog(out_path) as log:
        for k in range(1, steps + 1):
            dump = Path(rollout_dir) / f"{k}.jsonl"
            scores = rollout_scores(dump) if dump.is_file() else None
            log.append(step_record(k, metrics[k], n_sequences, scores))
    return Path(out_path)


def merge_command(actor_dir: str | os.PathLike, target_dir: str | os.PathLike, python: str | None = None) -> list[str]:
    """verl's FSDP -> Hugging Face merger for one ``global_step_<N>/actor`` directory."""
    return [
        python or sys.executable,
        "-m",
        "verl.model_merger",
        "merge",
        "--backend",
        "fsdp",
        "--local_dir",
        str(actor_dir),
        "--target_dir",
        str(target_dir),
    ]


def merge_checkpoint(
    ckpt_dir: str | os.PathLike,
    step: int,
    out_dir: str | os.PathLike,
    log_path: str | os.PathLike,
    python: str | None = None,
) -> Path:
    """Merge ``global_step_<step>/actor`` into ``<out_dir>/step_<step>/`` (HF format, written atomically)."""
    actor = Path(ckpt_dir) / f"global_step_{step}" / "actor"
    if not actor.is_dir():
        raise VerlError(f"no verl checkpoint at {actor}")
    target = Path(out_dir) / f"step_{step}"
    with atomic_dir(target) as tmp, open(log_path, "a", encoding="utf-8") as log:
        cmd = merge_command(actor, tmp, python)
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            raise VerlError(f"verl.model_merger failed (exit {rc}) for {actor}; see {log_path}")
        if not (Path(tmp) / "config.json").is_file():
            raise VerlError(f"verl.model_merger wrote no config.json for {actor}; see {log_path}")
    return target
