"""Few-shot plain-text prompts for base models (no chat template) and a prompt-length clip report.

GSM8K layout (exemplars separated by a blank line, the prompt ends ``Answer:``)::

    Question: <exemplar question>
    Answer: <worked solution>
    #### <n>

    Question: <evaluated question>[ <instruction>]
    Answer:

Exemplars are drawn from a pool (train / few-shot split) with a ``random.Random`` seeded by
``(seed, item id)``, so an item gets the same exemplars in every run and across shot counts the
``k``-shot exemplars are a prefix of the ``k+1``-shot ones. The evaluated item is never its own
exemplar: pool entries with the same id OR the same question text are excluded.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

#: verl's GSM8K instruction (examples/data_preprocess/gsm8k.py), appended to the evaluated question.
GSM8K_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'
MATH_INSTRUCTION = "Put your final answer within \\boxed{}."
BENCHMARKS = ("gsm8k", "math", "mmlu")
LETTERS = "ABCD"


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def select_exemplars(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int, seed: int) -> list:
    """``shots`` pool entries for ``item``, deterministic in ``(seed, item["id"])``, never the item itself.

    Raises ``ValueError`` if ``shots`` is negative or exceeds the pool (or the pool minus the item).
    """
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    if shots == 0:
        return []
    if shots > len(pool):
        raise ValueError(f"{shots}-shot prompt needs {shots} exemplars but the few-shot pool has only {len(pool)}")
    question = _norm(item["question"])
    eligible = [p for p in pool if p["id"] != item["id"] and _norm(p["question"]) != question]
    if shots > len(eligible):
        raise ValueError(
            f"{shots}-shot prompt for item {item['id']!r}: only {len(eligible)} pool entries differ from the item"
        )
    rng = random.Random(f"{seed}:{item['id']}")
    order = rng.sample(range(len(eligible)), len(eligible))
    return [eligible[i] for i in order[:shots]]


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


def math_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int, seed: int) -> str:
    """MATH prompt: exemplars ``Problem:``/``Solution:`` (solutions with ``\\boxed``), then the problem,
    ``MATH_INSTRUCTION`` asking for ``\\boxed{}`` and ``Solution:``."""
    blocks = []
    for ex in select_exemplars(item, pool, shots, seed):
        solution = (ex.get("solution") or "").strip() or f"The answer is $\\boxed{{{ex['answer']}}}$."
        blocks.append(f"Problem: {ex['question']}\nSolution: {solution}")
    blocks.append(f"Problem: {item['question']}\n{MATH_INSTRUCTION}\nSolution:")
    return "\n\n".join(blocks)


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


def build_prompts(
    items: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    shots: int,
    seed: int,
    benchmark: str,
    instruction: bool = False,
) -> list[str]:
    """One prompt per item for ``benchmark`` (``gsm8k``, ``math`` or ``mmlu``); same order as ``items``."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; prompts exist for {', '.join(BENCHMARKS)}")
    if instruction and benchmark != "gsm8k":
        raise ValueError(f"instruction=True is only defined for gsm8k, not {benchmark!r}")
    if benchmark == "gsm8k":
        return [gsm8k_prompt(it, pool, shots, seed, instruction=instruction) for it in items]
    if benchmark == "math":
        return [math_prompt(it, pool, shots, seed) for it in items]
    return [mmlu_prompt(it, pool, shots, seed) for it in items]


def count_tokens(tokenizer: Any, text: str) -> int:
    """Prompt length in tokens as the model sees it (the tokenizer's default special tokens included).

    Accepts a ``transformers`` tokenizer (``encode`` -> ids), a ``tokenizers.Tokenizer`` (``encode`` ->
    ``Encoding.ids``) or any callable returning ``{"input_ids": ...}``.
    """
    if hasattr(tokenizer, "encode"):
        out = tokenizer.encode(text)
        return len(out.ids) if hasattr(out, "ids") else len(out)
    if callable(tokenizer):
        return len(tokenizer(text)["input_ids"])
    raise TypeError(f"cannot count tokens with {type(tokenizer).__name__}: needs encode() or __call__")


def clip_report(prompts: Sequence[str], tokenizer: Any, max_tokens: int) -> dict:
    """How many prompts exceed ``max_tokens`` tokens; nothing is truncated here.

    Returns ``n``, ``n_over`` (prompts longer than ``max_tokens``), ``clip_rate`` (fraction in [0, 1]),
    ``max_tokens_seen``, ``mean_tokens`` and ``max_tokens``. An empty list gives zeros.
    """
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    lengths = [count_tokens(tokenizer, p) for p in prompts]
    n_over = sum(length > max_tokens for length in lengths)
    n = len(lengths)
    return {
        "n": n,
        "n_over": n_over,
        "clip_rate": n_over / n if n else 0.0,
        "max_tokens_seen": max(lengths, default=0),
        "mean_tokens": sum(lengths) / n if n else 0.0,
        "max_tokens": max_tokens,
    }
