"""The ``grpo`` rule's job: build RL prompts from the prepared data and hand them to the configured backend.

Both backends read the same ``grpo`` config keys; rewards come only from ``rlscaling.rewards``.
"""

from __future__ import annotations

from pathlib import Path

from ..config import grpo_settings
from ..io import read_jsonl


def rl_rows(cfg: dict, train_path) -> list[dict]:
    """GRPO training rows ``{"prompt", "answer", "id"}``: 0-shot plain-text prompts (no chat template)."""
    from ..prompts import gsm8k_prompt

    instruction = bool(cfg["data"]["rl_train"].get("instruction", False))
    items = read_jsonl(train_path)
    return [{"prompt": gsm8k_prompt(it, [], 0, int(cfg.get("seed", 0)), instruction=instruction),
             "answer": it["answer"], "id": it["id"]} for it in items]


def run_grpo_job(cfg: dict, model: str, budget: str, model_dir, train_path, out_dir, threads: int = 1) -> dict:
    """Train one (model, budget) cell with GRPO; writes ``step_<k>/`` checkpoints, ``tokens.csv`` and ``run.json``."""
    g = grpo_settings(cfg, model)
    rows = rl_rows(cfg, train_path)
    seed = int(cfg.get("seed", 0))
    if g["backend"] == "verl":
        from .verl_backend import launch_grpo

        return launch_grpo(cfg, model, model_dir=str(model_dir), train_rows=rows, out_dir=str(out_dir))
    from .trl_backend import GRPOSettings, run_grpo

    settings = GRPOSettings.from_config(g, seed)
    return run_grpo(str(model_dir), rows, settings, Path(out_dir), threads=threads)
