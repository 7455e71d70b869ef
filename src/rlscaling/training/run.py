"""The ``grpo`` rule's job: build RL prompts from the prepared data and hand them to the configured backend.

Both backends read the same settings (``rlscaling.config.job_config(cfg, "grpo", ...)``: the model's merged ``grpo``
section, the cell's seed, the RL prompt source); rewards come only from ``rlscaling.rewards``. Training state that
must survive a failed attempt (verl's FSDP checkpoints) lives in ``state_dir``, outside the rule's outputs, because
Snakemake deletes the outputs of a failed job before it retries it.
"""

from __future__ import annotations

from pathlib import Path

from ..io import read_jsonl


def rl_rows(cfg: dict, train_path) -> list[dict]:
    """GRPO training rows ``{"prompt", "answer", "id"}``: 0-shot plain-text prompts (no chat template)."""
    from ..prompts import gsm8k_prompt

    instruction = bool(cfg["data"]["rl_train"].get("instruction", False))
    seed = int(cfg.get("prompt_seed", cfg.get("seed", 0)))
    items = read_jsonl(train_path)
    return [
        {"prompt": gsm8k_prompt(it, [], 0, seed, instruction=instruction), "answer": it["answer"], "id": it["id"]}
        for it in items
    ]


def run_grpo_job(cfg: dict, model: str, model_dir, train_path, out_dir, state_dir=None, threads: int = 1) -> dict:
    """Train one (model, budget) cell with GRPO; writes ``step_<k>/`` checkpoints, ``tokens.csv`` and ``run.json``.

    ``cfg`` is the job's settings (``grpo`` already merged with the model's overrides; ``seed`` the cell's seed).
    """
    from ..hub import resolve_model_path

    g = cfg["grpo"]
    rows = rl_rows(cfg, train_path)
    seed = int(cfg.get("seed", 0))
    from ..checkpoints import check_if_local

    base = resolve_model_path(model_dir)
    check_if_local(base)
    if g["backend"] == "verl":
        from .verl_backend import launch_grpo

        state = state_dir or Path(out_dir).with_name(Path(out_dir).name + ".state")
        return launch_grpo(cfg, model, model_dir=str(base), train_rows=rows, out_dir=str(out_dir), state_dir=str(state))
    from .common import GRPOSettings
    from .trl_backend import run_grpo

    settings = GRPOSettings.from_config(g, seed)
    return run_grpo(str(base), rows, settings, Path(out_dir), threads=threads)
