"""rlscaling.prompts: layout, deterministic exemplars, the item never its own exemplar, clip report."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from rlscaling.data import procedural
from rlscaling.prompts import (
    GSM8K_INSTRUCTION,
    build_prompts,
    clip_report,
    gsm8k_prompt,
    math_prompt,
    mmlu_prompt,
    select_exemplars,
)


def _item(i: int, question: str | None = None) -> dict:
    return {
        "id": f"p{i}",
        "question": question or f"What is {i} + 1?",
        "answer": str(i + 1),
        "solution": f"{i} + 1 = {i + 1}.\n#### {i + 1}",
    }


POOL = [_item(i) for i in range(10)]


def test_gsm8k_prompt_layout():
    item = {"id": "x", "question": "What is 2 + 2?", "answer": "4"}
    prompt = gsm8k_prompt(item, POOL, shots=2, seed=0)
    blocks = prompt.split("\n\n")
    assert len(blocks) == 3
    for block in blocks[:2]:
        q, a = block.split("\n", 1)
        assert q.startswith("Question: What is ") and a.startswith("Answer: ") and "\n#### " in a
    assert blocks[-1] == "Question: What is 2 + 2?\nAnswer:"
    assert gsm8k_prompt(item, POOL, 0, 0) == "Question: What is 2 + 2?\nAnswer:"
    assert gsm8k_prompt(item, POOL, 0, 0, instruction=True) == f"Question: What is 2 + 2? {GSM8K_INSTRUCTION}\nAnswer:"


def test_exemplars_are_deterministic_per_item_and_nested_across_shots():
    item = {"id": "x", "question": "What is 2 + 2?", "answer": "4"}
    five = select_exemplars(item, POOL, 5, seed=3)
    assert five == select_exemplars(item, POOL, 5, seed=3)
    assert select_exemplars(item, POOL, 2, seed=3) == five[:2]
    other_item = {**item, "id": "y"}
    draws = {
        tuple(e["id"] for e in select_exemplars(it, POOL, 3, seed=s)) for it in (item, other_item) for s in range(4)
    }
    assert len(draws) > 1  # seeded per item and seed, not one fixed set


def test_the_evaluated_item_is_never_an_exemplar():
    pool = [_item(i) for i in range(4)] + [{**_item(9), "id": "other-id", "question": "What is 2 + 1?"}]
    same_text = {"id": "new", "question": "What  is 2 + 1?", "answer": "3"}  # same text as p2 (whitespace aside)
    same_id = {"id": "p1", "question": "A different question?", "answer": "0"}
    for seed in range(20):
        assert all(e["question"] != "What is 2 + 1?" for e in select_exemplars(same_text, pool, 3, seed))
        assert all(e["id"] != "p1" for e in select_exemplars(same_id, pool, 4, seed))
    with pytest.raises(ValueError, match="only 3 pool entries differ"):
        select_exemplars(same_text, pool, 4, 0)


def test_shots_beyond_pool_is_a_clear_error():
    with pytest.raises(ValueError, match="5-shot prompt needs 5 exemplars but the few-shot pool has only 3"):
        gsm8k_prompt(_item(99), POOL[:3], 5, 0)
    with pytest.raises(ValueError, match="shots must be >= 0"):
        gsm8k_prompt(_item(99), POOL, -1, 0)


def test_procedural_pool_never_contains_the_eval_item():
    items = procedural.generate("chain_sum", 40, 303, "test", terms="3-4", digits="1-2")
    pool = procedural.generate("chain_sum", 64, 404, "train", terms="3-4", digits="1-2")
    prompts = build_prompts(items, pool, 3, seed=1, benchmark="gsm8k")
    for item, prompt in zip(items, prompts):
        assert prompt.count(item["question"]) == 1 and prompt.endswith(f"Question: {item['question']}\nAnswer:")


def test_math_and_mmlu_prompts():
    item = {"id": "m", "question": "Compute $1+1$.", "answer": "2"}
    pool = [{"id": "e", "question": "Compute $2+2$.", "answer": "4", "solution": "$2+2=\\boxed{4}$."}]
    prompt = math_prompt(item, pool, 1, 0)
    assert prompt.startswith("Problem: Compute $2+2$.\nSolution: $2+2=\\boxed{4}$.\n\n")
    assert prompt.endswith("Problem: Compute $1+1$.\nPut your final answer within \\boxed{}.\nSolution:")
    mc = {
        "id": "q",
        "question": "Pick one.",
        "answer": "B",
        "choices": ["w", "x", "y", "z"],
        "subject": "high_school_physics",
    }
    ex = {**mc, "id": "q2", "question": "Pick two.", "answer": "D"}
    assert mmlu_prompt(mc) == (
        "The following are multiple choice questions (with answers) about high school physics.\n\n"
        "Pick one.\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    )
    assert "Pick two.\nA. w\nB. x\nC. y\nD. z\nAnswer: D\n\nPick one." in mmlu_prompt(mc, [ex], 1, 0)
    assert build_prompts([mc], [ex], 1, 0, "mmlu") == [mmlu_prompt(mc, [ex], 1, 0)]
    with pytest.raises(ValueError, match="unknown benchmark 'arc'"):
        build_prompts([mc], [], 0, 0, "arc")
    with pytest.raises(ValueError, match="only defined for gsm8k"):
        build_prompts([item], [], 0, 0, "math", instruction=True)


class _WordTokenizer:
    """A transformers-like object: ``__call__`` only, returns ``input_ids``."""

    def __call__(self, text):
        return {"input_ids": text.split()}


def test_clip_report_with_a_tokenizers_tokenizer():
    prompts = ["one two three", "one two three four five six", "one", "a b c d e f g h"]
    vocab = {w: i for i, w in enumerate(sorted({w for p in prompts for w in p.split()} | {"[UNK]"}))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    report = clip_report(prompts, tok, max_tokens=5)
    assert report == {"n": 4, "n_over": 2, "clip_rate": 0.5, "max_tokens_seen": 8, "mean_tokens": 4.5, "max_tokens": 5}
    assert clip_report(prompts, _WordTokenizer(), 6)["n_over"] == 1
    assert clip_report([], tok, 5)["clip_rate"] == 0.0
    with pytest.raises(ValueError, match="max_tokens must be positive"):
        clip_report(prompts, tok, 0)
