"""MMLU: multiple choice (2-4 choices), scored by the answer letter (the project's and the seed's extraction).

Prompts: ``consistent`` (:func:`mmlu_prompt`, the original paper's layout) and the seed's (:func:`seed_mmlu_prompt`,
seed_recipe.md (b)). Answers: a choice letter (:func:`check_answer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .answers import AnswerError
from .prompt_parts import first_exemplars, raw_text, select_exemplars
from .registry import Family, Scorer, scored_by_rewards

KIND = "mmlu"
LETTERS = "ABCD"
SEED_MMLU_INSTRUCTION = (
    "Answer the following multiple choice question about {subject}. Respond with a single sentence of the form "
    '"The correct answer is _", filling the blank with the letter corresponding to the correct answer '
    "(i.e., A, B, C or D)."
)
"""The seed's MMLU instruction line (``{subject}``: the raw subject id, e.g. ``abstract_algebra``)."""


def _mmlu_block(item: Mapping[str, Any], with_answer: bool) -> str:
    choices = item.get("choices") or []
    if not 2 <= len(choices) <= len(LETTERS):
        raise ValueError(f"MMLU item {item.get('id')!r}: expected 2-4 choices, got {len(choices)}")
    lines = [item["question"]] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    lines.append(f"Answer: {item['answer']}" if with_answer else "Answer:")
    return "\n".join(lines)


def mmlu_prompt(
    item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None = None, shots: int = 0, seed: int = 0
) -> str:
    """MMLU prompt in the original paper's layout: a subject header, exemplars with their letter, then the
    question with lettered choices ``A.``-``D.`` and ``Answer:`` (the model continues with a letter)."""
    subject = str(item.get("subject") or "").replace("_", " ").strip()
    header = f"The following are multiple choice questions (with answers){f' about {subject}' if subject else ''}."
    blocks = [_mmlu_block(ex, True) for ex in select_exemplars(item, pool or [], shots, seed)]
    blocks.append(_mmlu_block(item, False))
    return header + "\n\n" + "\n\n".join(blocks)


def _seed_mmlu_question(item: Mapping[str, Any]) -> str:
    choices = item.get("choices") or []
    if len(choices) != len(LETTERS):
        raise ValueError(f"MMLU item {item.get('id')!r}: the seed's prompt needs 4 choices, got {len(choices)}")
    options = "\n".join(f"{letter}. {choice}" for letter, choice in zip(LETTERS, choices))
    return f"{raw_text(item, 'question', 'question')}\n\n{options}"


def seed_mmlu_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None, shots: int) -> str:
    r"""The seed's MMLU prompt (seed_recipe.md (b)): the instruction naming the raw subject id, ``\n\n``, for k shots
    the first k pool rows of the item's subject as ``Q: ...\nA: The correct answer is {L}\n`` joined by ``\n`` plus
    ``\n``, then ``\n\n``; then ``Q: {question}\n\nA. ..\nB. ..\nC. ..\nD. ..\nA: ``."""
    subject = str(item.get("subject") or "")
    prompt = SEED_MMLU_INSTRUCTION.format(subject=subject) + "\n\n"
    if shots:
        exemplars = first_exemplars(pool or [], shots, subject=item.get("subject"))
        blocks = [f"Q: {_seed_mmlu_question(ex)}\nA: The correct answer is {ex['answer']}\n" for ex in exemplars]
        block = "\n".join(blocks)
        prompt += block + "\n" + "\n\n"
    return prompt + f"Q: {_seed_mmlu_question(item)}\nA: "


def check_answer(rec: dict) -> dict:
    """The record as is when it has ``choices`` and a letter answer among them; else :class:`AnswerError`."""
    answer = rec["answer"]
    choices = rec.get("choices")
    if not choices:
        raise AnswerError("MMLU items need 'choices' (a list of 2-4 strings) and a letter answer")
    letters = LETTERS[: len(choices)]
    if answer not in letters:
        raise AnswerError(f"answer {answer!r} is not a choice letter in {letters!r}")
    return rec


FAMILY = Family(
    kind=KIND,
    title="MMLU",
    scorers=(
        Scorer("mmlu_letter", scored_by_rewards(KIND, "mmlu_letter"), label="answer letter"),
        Scorer(
            "seed_mmlu_letter",
            scored_by_rewards(KIND, "seed_mmlu_letter"),
            label="seed's answer letter (4 patterns)",
            seed=True,
        ),
    ),
    default_scorer="mmlu_letter",
    hub_names=("mmlu",),
    prompt=mmlu_prompt,
    seed_prompt=seed_mmlu_prompt,
    check_answer=check_answer,
)
