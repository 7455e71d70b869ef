"""What the TRL backend hooks into ``GRPOTrainer``: the metering reward function and the two ``TrainerCallback`` s.

:class:`RolloutMeter` wraps the reward function and records each generation batch's exact token counts;
:class:`StepLog` turns them, per optimizer step, into a ``tokens.csv`` row (:class:`StepRecord`) and drives the
progress bar; :class:`CheckpointSaver` writes ``step_{k}/`` at the configured steps. The last two are plain classes,
mixed into ``transformers.TrainerCallback`` by :func:`_callbacks` so that transformers is imported only when training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlscaling.io import atomic_dir
from rlscaling.training.common import StepRecord, TokensLog

PROMPT_TOKENS_COLUMN = "n_prompt_tokens"

RewardFn = Callable[..., list[float]]


@dataclass
class RolloutBatch:
    """Token counts and rewards of one generation batch (all rollouts of its prompts)."""

    prompt_tokens: int
    completion_tokens: int
    rewards: list[float]


class RolloutMeter:
    """Reward function for TRL that delegates to ``reward_fn`` and records each generation batch's exact
    token counts: prompt tokens from the dataset column (one count per rollout row TRL passes) and completion tokens
    from TRL's ``completion_ids`` (generated tokens up to and including the first EOS; nothing after it)."""

    __name__ = "reward"

    def __init__(self, reward_fn: RewardFn):
        self.reward_fn = reward_fn
        self.pending: list[RolloutBatch] = []

    def __call__(self, prompts: list, completions: list, completion_ids: list[list[int]], **kwargs) -> list[float]:
        rewards = [float(r) for r in self.reward_fn(prompts, completions, completion_ids=completion_ids, **kwargs)]
        if len(rewards) != len(completions) or not all(math.isfinite(r) for r in rewards):
            raise ValueError(f"reward function returned {len(rewards)} rewards (need {len(completions)}, all finite)")
        self.pending.append(
            RolloutBatch(
                prompt_tokens=int(sum(kwargs[PROMPT_TOKENS_COLUMN])),
                completion_tokens=sum(len(ids) for ids in completion_ids),
                rewards=rewards,
            )
        )
        return rewards

    def pop(self) -> list[RolloutBatch]:
        batches, self.pending = self.pending, []
        return batches


class StepLog:
    """Turns each step's rollout batches and TRL's logged ``kl`` into a :class:`StepRecord` (``wall_s``: seconds from
    step begin to step end) appended to ``log``, checks the token count against TRL's own, and shows a progress bar.
    """

    def __init__(self, meter: RolloutMeter, log: TokensLog, total_steps: int):
        self.meter, self.log, self.total_steps = meter, log, total_steps
        self.t0 = None
        self.wall = {}
        self.tokens_seen = 0
        self.bar = None

    def on_train_begin(self, args, state, control, **kw):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total_steps, desc="grpo", unit="step", dynamic_ncols=True)

    def on_step_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.wall[state.global_step] = time.perf_counter() - self.t0

    def on_log(self, args, state, control, logs=None, **kw):
        if "reward" not in (logs or {}):
            return  # the end-of-training summary
        record = self.record(state.global_step, logs)
        seen = int(logs["num_tokens"])  # TRL's cumulative prompt + completion tokens: must agree with ours
        if seen - self.tokens_seen != record.prompt_tokens + record.completion_tokens:
            raise RuntimeError(
                f"step {record.step}: TRL counted {seen - self.tokens_seen} tokens, the meter "
                f"{record.prompt_tokens + record.completion_tokens}"
            )
        self.tokens_seen = seen
        self.log.append(record)
        self.bar.update(1)
        kl = "-" if record.kl is None else f"{record.kl:.2e}"
        self.bar.set_postfix(reward=f"{record.reward_mean:.3f}", kl=kl)

    def on_train_end(self, args, state, control, **kw):
        self.bar.close()

    def record(self, step: int, logs: dict) -> StepRecord:
        """The step's record from the meter's pending batches (population reward std) and TRL's logged ``kl``."""
        batches = self.meter.pop()
        if not batches:
            raise RuntimeError(f"step {step}: no rollouts were scored")
        rewards = np.array([r for b in batches for r in b.rewards], dtype=float)
        return StepRecord(
            step=step,
            prompt_tokens=sum(b.prompt_tokens for b in batches),
            completion_tokens=sum(b.completion_tokens for b in batches),
            n_sequences=len(rewards),
            reward_mean=float(rewards.mean()),
            reward_std=float(rewards.std()),
            kl=logs.get("kl"),
            wall_s=self.wall.pop(step),
        )


class CheckpointSaver:
    """Saves model + tokenizer (no optimizer state) to ``step_{k}/`` at the configured steps, atomically."""

    def __init__(self, run_dir: Path, save_steps: Sequence[int], tokenizer):
        self.run_dir, self.save_steps, self.tokenizer = run_dir, save_steps, tokenizer

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step in self.save_steps:
            with atomic_dir(self.run_dir / f"step_{state.global_step}") as tmp:
                model.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)


def _callbacks(
    meter: RolloutMeter, log: TokensLog, run_dir: Path, save_steps: Sequence[int], tokenizer, total_steps: int
):
    """The two TrainerCallbacks: per-step tokens log + progress bar, and checkpoint saving."""
    from transformers import TrainerCallback

    class StepLogCallback(StepLog, TrainerCallback):
        pass

    class CheckpointCallback(CheckpointSaver, TrainerCallback):
        pass

    return [StepLogCallback(meter, log, total_steps), CheckpointCallback(run_dir, save_steps, tokenizer)]
