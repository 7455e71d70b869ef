"""verl's training data: our ``{"prompt", "answer"}`` rows as the parquet file ``verl.trainer.main_ppo`` reads.

Rows follow verl's ``examples/data_preprocess/gsm8k.py`` layout (``data_source``, ``prompt``, ``ability``,
``reward_model``, ``extra_info``). ``prompt`` is a chat list with one user message holding our plain-text prompt,
because verl's dataset (``data.return_raw_chat=True``, its default) always passes the messages through the
tokenizer's chat template before generation. The Qwen3 *Base* tokenizers ship the ChatML template, which would wrap
the prompt in ``<|im_start|>user ... <|im_start|>assistant`` tags the base model never saw in evaluation; with
``prompts.style: consistent`` the overrides therefore set ``actor_rollout_ref.model.custom_chat_template`` to
:data:`rlscaling.training.verl_overrides.PLAIN_CHAT_TEMPLATE`, which renders the message contents verbatim, so RL
prompts are token-for-token the prompts used in evaluation (no chat template).

With ``prompts.style: seed`` the rows are the seed's (verl's ``examples/data_preprocess/gsm8k.py`` as the seed ran
it; seed_recipe.md (d), :func:`seed_row_fields`): content ``{question} {I}``, rendered by the tokenizer's own chat
template (no custom template: verl's default), ground truth the first ``#### <number>`` of the dataset's answer with
commas removed, ``data_source`` ``custom/gsm8k`` (the seed's rows from its custom reward on; verl routes
``openai/gsm8k`` to its built-in strict scorer only when no custom reward function is set, which never happens here:
our ``compute_score`` always runs, the scorer named by ``extra_info.reward_mode``), ``extra_info`` with the raw
question and answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from rlscaling.io import atomic_path
from rlscaling.rewards.seed import seed_rl_answer

PARQUET_COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")
SEED_DATA_SOURCE = "custom/gsm8k"
"""``data_source`` of the seed's rows from commit 7eec301 on ("avoid default reward")."""


def seed_row_fields(item: Mapping) -> dict:
    """What the seed's verl row takes from a GSM8K record besides its prompt: ``answer``
    (:func:`rlscaling.rewards.seed.seed_rl_answer`), ``data_source`` (:data:`SEED_DATA_SOURCE`) and ``extra_info``
    (the raw ``question`` and ``answer``, as verl's preprocessing)."""
    raw = item.get("raw") or {}
    extra = {k: str(raw[k]) for k in ("question", "answer") if k in raw}
    return {"answer": seed_rl_answer(item), "data_source": SEED_DATA_SOURCE, "extra_info": extra}


def data_source_name(source: str) -> str:
    """verl ``data_source`` of a data spec: ``hf:gsm8k`` -> ``gsm8k``, ``procedural:<task>?..`` -> ``procedural``."""
    if not isinstance(source, str) or ":" not in source:
        raise ValueError(f"data source {source!r}: expected 'hf:<name>', 'procedural:<task>' or 'jsonl:<path>'")
    kind, rest = source.split(":", 1)
    if kind == "hf":
        return rest.split("?", 1)[0]
    return kind


def verl_rows(rows: Iterable[Mapping], data_source: str, reward_mode: str, split: str = "train") -> list[dict]:
    """Training rows ``{"prompt", "answer"[, "id", "data_source", "extra_info"]}`` -> verl records (see the module
    docstring for the layout). A row's own ``data_source`` replaces ``data_source`` and its ``extra_info`` is added
    (the seed's rows, :func:`seed_row_fields`).

    ``extra_info.reward_mode`` tells ``rlscaling.rewards.compute_score`` which scorer gives the reward: the row's own
    ``reward_mode`` (a row of another family than the run's reward, :func:`rlscaling.training.run.rl_rows`), else
    ``reward_mode``.
    """
    out = []
    for index, row in enumerate(rows):
        missing = [k for k in ("prompt", "answer") if k not in row]
        if missing:
            raise ValueError(f"training row {index}: missing keys {missing} (got {sorted(row)})")
        if not isinstance(row["prompt"], str) or not row["prompt"]:
            raise ValueError(f"training row {index}: 'prompt' must be a non-empty string")
        out.append(
            {
                "data_source": row.get("data_source", data_source),
                "prompt": [{"role": "user", "content": row["prompt"]}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
                "extra_info": {
                    **(row.get("extra_info") or {}),
                    "split": split,
                    "index": index,
                    "id": str(row.get("id", index)),
                    "reward_mode": row.get("reward_mode") or reward_mode,
                },
            }
        )
    if not out:
        raise ValueError("no training rows")
    return out


def write_verl_parquet(
    rows: Iterable[Mapping], path: str | os.PathLike, data_source: str, reward_mode: str, split: str = "train"
) -> int:
    """Write training rows as a verl parquet file (atomically); returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = verl_rows(rows, data_source, reward_mode, split)
    table = pa.Table.from_pylist(records)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(records)
