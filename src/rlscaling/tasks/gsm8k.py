"""GSM8K: one-number answers (``#### n``), the project's three scorers and the seed study's three.

Colours (Okabe-Ito vermillion / blue / bluish green, distinct for colour-blind readers); the seed's own scorers in
lighter tints of the same hues, so a seed scorer sits beside the project's scorer it corresponds to.

Prompts: ``consistent`` (:func:`gsm8k_prompt`; exemplars separated by a blank line, the prompt ends ``Answer:``)::

    Question: <exemplar question>
    Answer: <worked solution>
    #### <n>

    Question: <evaluated question>[ <instruction>]
    Answer:

and the seed's (:func:`seed_gsm8k_prompt`, seed_recipe.md (a)). Answers: one number (:func:`check_answer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlscaling.rewards import canonical_number

from .answers import AnswerError
from .prompt_parts import GSM8K_INSTRUCTION, first_exemplars, raw_text, select_exemplars
from .registry import Family, Scorer, scored_by_rewards

KIND = "gsm8k"


def _gsm8k_solution(ex: Mapping[str, Any]) -> str:
    solution = (ex.get("solution") or "").strip()
    if "####" in solution:
        return solution
    return f"{solution}\n#### {ex['answer']}" if solution else f"#### {ex['answer']}"


def gsm8k_prompt(
    item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int, seed: int, instruction: bool = False
) -> str:
    """GSM8K-style prompt with ``shots`` worked exemplars (solution ending ``#### n``); ends ``Answer:``.

    ``instruction=True`` appends ``GSM8K_INSTRUCTION`` to the evaluated question (as verl does), not to
    the exemplars. An exemplar without a ``####`` line gets ``#### <answer>`` appended.
    """
    exemplars = select_exemplars(item, pool, shots, seed)
    blocks = [f"Question: {ex['question']}\nAnswer: {_gsm8k_solution(ex)}" for ex in exemplars]
    question = f"{item['question']} {GSM8K_INSTRUCTION}" if instruction else item["question"]
    blocks.append(f"Question: {question}\nAnswer:")
    return "\n\n".join(blocks)


def _seed_gsm8k_answer(ex: Mapping[str, Any]) -> str:
    """An exemplar's worked answer as the seed shows it: the dataset's ``answer`` (with ``<<...>>`` annotations and
    the ``#### n`` line); for records without raw rows, the record's solution ending ``#### n``."""
    raw = ex.get("raw") or {}
    return str(raw["answer"]) if "answer" in raw else _gsm8k_solution(ex)


def seed_gsm8k_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None, shots: int) -> str:
    r"""The seed's GSM8K prompt (seed_recipe.md (a), version G3). 0-shot: ``{question} {I}``. k-shot: blocks
    ``Question: {q_i}\nAnswer: {a_i}\n`` of the first k pool rows (``q_i``, ``a_i`` stripped) joined by ``\n``, one
    more ``\n``, then ``\nQuestion: {question}\n{I}\nAnswer: `` (ending in a space)."""
    question = raw_text(item, "question", "question")
    if shots == 0:
        return f"{question} {GSM8K_INSTRUCTION}"
    blocks = [
        f"Question: {raw_text(ex, 'question', 'question').strip()}\nAnswer: {_seed_gsm8k_answer(ex).strip()}\n"
        for ex in first_exemplars(pool or [], shots)
    ]
    return "\n".join(blocks) + "\n" + f"\nQuestion: {question}\n{GSM8K_INSTRUCTION}\nAnswer: "


def check_answer(rec: dict) -> dict:
    """The record with its answer as one number by the scorers' own ``rewards.canonical_number`` (``"1,200"`` ->
    ``"1200"``); words, ``NaN``, fractions and exponents -> :class:`AnswerError` (every response would score 0)."""
    answer = rec["answer"]
    number = canonical_number(answer)
    if number is None:
        raise AnswerError(
            f"answer {answer!r} is not a number the GSM8K scorers can match "
            "(expected one decimal number such as '72', '1,234', '-3.5', '$20'; "
            "no words, NaN, fractions or exponents)"
        )
    return {**rec, "answer": number}


def _scorer(name: str, **declared) -> Scorer:
    return Scorer(name, scored_by_rewards(KIND, name), **declared)


FAMILY = Family(
    kind=KIND,
    title="GSM8K",
    scorers=(
        _scorer(
            "strict",
            label="strict (#### format)",
            color="#D55E00",
            reward=True,
            method="needs the `#### <number>` format",
        ),
        _scorer(
            "flexible", label="flexible (last number)", color="#0072B2", reward=True, method="takes the last number"
        ),
        _scorer(
            "custom_flexible",
            label="custom flexible (cut at ####)",
            color="#009E73",
            reward=True,
            method="cuts the response at the first `####` and then takes the last number",
        ),
        _scorer(
            "seed_strict", label="seed's strict (verl 0.5, last 300 chars)", color="#F0A67A", reward=True, seed=True
        ),
        _scorer("seed_flexible", label="seed's flexible (verl 0.5, last 300 chars)", color="#7FB8D8", seed=True),
        _scorer(
            "seed_custom_flexible",
            label="seed's custom flexible (#### + 5 chars)",
            color="#7FCEB9",
            reward=True,
            seed=True,
        ),
    ),
    default_scorer="custom_flexible",
    instruction=True,
    hub_names=("gsm8k",),
    prompt=gsm8k_prompt,
    seed_prompt=seed_gsm8k_prompt,
    check_answer=check_answer,
)
