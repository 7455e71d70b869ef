"""The ``grpo`` rule's job: build RL prompts from the prepared data and hand them to the configured backend.

Both backends read the same settings (``rlscaling.workflow.job_settings.job_config(cfg, "grpo", ...)``: the model's
merged
``grpo`` section, the cell's seed, the RL prompt source); rewards come only from ``rlscaling.rewards``. Training state
that must survive a failed attempt (verl's FSDP checkpoints) lives in ``state_dir``, outside the rule's outputs,
because Snakemake deletes the outputs of a failed job before it retries it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rlscaling.io import read_jsonl

log = logging.getLogger(__name__)


def family_reward(kind: str, reward_mode: str) -> str:
    """The reward of a training row of family ``kind`` in a run of ``reward_mode``: the mode itself for a row of its
    own family, else the family's default scorer (MATH: ``math_verify``, the last ``\\boxed{}``)."""
    from rlscaling.rewards import SCORERS
    from rlscaling.tasks import default_scorer

    return reward_mode if reward_mode in SCORERS.get(kind, ()) else default_scorer(kind)


def job_train_sets(cfg: dict) -> list[dict]:
    """The RL training sets a GRPO job reads, in the order of its input files: a ``train`` variant's
    ``data.rl_train_sets`` (``grpo.train`` names them, :func:`rlscaling.study.train_names`), else ``data.rl_train``.
    Each holds ``source``, ``instruction`` and, unless ``gsm8k``, ``kind``
    (:func:`rlscaling.workflow.job_settings._train_set`)."""
    from rlscaling.study import TRAIN, train_names

    train = (cfg.get("grpo") or {}).get(TRAIN)
    if train is None:
        return [cfg["data"]["rl_train"]]
    return [cfg["data"]["rl_train_sets"][name] for name in train_names(train)]


def rl_rows(cfg: dict, train_path) -> list[dict]:
    """GRPO training rows ``{"prompt", "answer", "id", "kind", "reward_mode"}`` of the job's training sets
    (:func:`job_train_sets`; ``train_path`` one prepared file or a list, one per set, concatenated in order).

    ``kind`` is the row's family (its set's ``kind``, default ``gsm8k``), ``reward_mode`` its reward
    (:func:`family_reward`: ``grpo.reward_mode`` for rows of its family, the family's default scorer for the others;
    such a row's ``data_source`` is its family, so verl's ``compute_score`` reads the same). The prompt is the text
    before any chat template (:func:`rlscaling.prompts.rl_prompt`, the family's). With ``prompts.style: seed`` GSM8K
    rows are the seed's verl rows (:func:`rlscaling.training.verl_data.seed_row_fields`): ``{question} {I}``, the
    comma-free number after ``#### ``. A seed reward (``grpo.reward_mode`` in
    :data:`rlscaling.rewards.seed.SEED_REWARD_MODES`) scores GSM8K rows against that same comma-free string under
    either prompt style."""
    from rlscaling.prompts import rl_prompt
    from rlscaling.rewards.seed import SEED_REWARD_MODES, seed_rl_answer
    from rlscaling.study import prompt_style

    from .verl_data import seed_row_fields

    style = prompt_style(cfg)
    mode = (cfg.get("grpo") or {}).get("reward_mode")
    seed = int(cfg.get("prompt_seed", cfg.get("seed", 0)))
    paths = list(train_path) if isinstance(train_path, (list, tuple)) else [train_path]
    sets = job_train_sets(cfg)
    if len(paths) != len(sets):
        raise ValueError(f"grpo: {len(paths)} training files {paths} for {len(sets)} training sets")
    rows = []
    for spec, path in zip(sets, paths):
        kind = spec.get("kind", "gsm8k")
        reward = family_reward(kind, mode) if mode else None
        instruction = bool(spec.get("instruction", False))
        for it in read_jsonl(path):
            row = {"prompt": rl_prompt(it, style, instruction, seed, kind), "answer": it["answer"], "id": it["id"]}
            row.update(kind=kind, reward_mode=reward)
            if kind != "gsm8k":
                row["data_source"] = kind
            elif style == "seed":
                row.update(seed_row_fields(it))
            elif mode in SEED_REWARD_MODES:
                row["answer"] = seed_rl_answer(it)
            rows.append(row)
    return rows


def rewards_by_family(rows: list[dict]) -> dict[str, str]:
    """``{family: reward}`` of a run's training rows (what ``run.json`` records as ``rewards``)."""
    return {r["kind"]: r["reward_mode"] for r in rows}


def chat_rendered(rows: list[dict], tokenizer) -> list[dict]:
    """The TRL backend's rows under ``prompts.style: seed``: each prompt rendered as one user message through the
    tokenizer's own chat template with the generation prompt (as verl renders it). A tokenizer without a chat template
    (the embedded study's) keeps the plain text, with a warning."""
    if not getattr(tokenizer, "chat_template", None):
        log.warning("prompts.style seed: the tokenizer has no chat template; GRPO prompts stay plain text")
        return rows
    return [
        {
            **r,
            "prompt": tokenizer.apply_chat_template(
                [{"role": "user", "content": r["prompt"]}], tokenize=False, add_generation_prompt=True
            ),
        }
        for r in rows
    ]


def run_grpo_job(cfg: dict, model: str, model_dir, train_path, out_dir, state_dir=None, threads: int = 1) -> dict:
    """Train one (model, budget) cell with GRPO; writes ``step_<k>/`` checkpoints, ``tokens.csv`` and ``run.json``.

    ``cfg`` is the job's settings (``grpo`` already merged with the model's overrides; ``seed`` the cell's seed).
    The job boundary: the settings are parsed here, once (:func:`rlscaling.training.common.job_grpo_settings`, and
    for verl :class:`rlscaling.training.verl_overrides.VerlSettings`), and handed down typed.
    """
    from rlscaling.models.checkpoints import check_if_local
    from rlscaling.models.hub import resolve_model_path
    from rlscaling.study import prompt_style

    rows = rl_rows(cfg, train_path)
    base = resolve_model_path(model_dir)
    check_if_local(base)
    if cfg["grpo"]["backend"] == "verl":
        from .verl_backend import launch_grpo, parse_verl_job

        settings, verl = parse_verl_job(cfg, model)
        state = state_dir or Path(out_dir).with_name(Path(out_dir).name + ".state")
        source = job_train_sets(cfg)[0]["source"]
        run = launch_grpo(settings, verl, source, str(base), rows, out_dir=str(out_dir), state_dir=str(state))
        return record_rewards(run, rows, out_dir)
    from .common import job_grpo_settings
    from .trl_backend import run_grpo

    settings = job_grpo_settings(cfg, model)
    if prompt_style(cfg) == "seed":
        from transformers import AutoTokenizer

        rows = chat_rendered(rows, AutoTokenizer.from_pretrained(str(base)))
    return record_rewards(run_grpo(str(base), rows, settings, Path(out_dir), threads=threads), rows, out_dir)


def record_rewards(run: dict, rows: list[dict], out_dir) -> dict:
    """Add ``rewards`` (:func:`rewards_by_family`: the reward of each family's rows) to a finished run's
    ``run.json``."""
    from rlscaling.io import write_json

    rewards = rewards_by_family(rows)
    if run.get("rewards") != rewards:
        run = {**run, "rewards": rewards}
        write_json(Path(out_dir) / "run.json", run)
    return run


def record_compute(run: dict, model_dir, out_dir) -> dict:
    """Add ``compute`` to a finished GRPO run's ``run.json``: the base model's N and H and the output head's share of
    every pass's FLOPs (:func:`rlscaling.compute.head_share`); C_rl itself is counted from ``tokens.csv`` when the
    study is aggregated."""
    from rlscaling.compute import head_share
    from rlscaling.io import write_json
    from rlscaling.models.hub import model_size

    size = model_size(model_dir)
    compute = {**size, "head_flops_share": head_share(size["n_params_non_embedding"], size["head_params"])}
    if run.get("compute") != compute:
        run = {**run, "compute": compute}
        write_json(Path(out_dir) / "run.json", run)
    return run
