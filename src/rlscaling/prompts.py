"""Few-shot plain-text prompts for base models (no chat template), the seed study's prompts, and a prompt-length clip
report.

Two styles (config ``prompts.style``, :func:`prompt_style`): ``consistent`` (the default, below) and ``seed``, the seed
study's recipe (../shared/reference/seed_recipe.md (a), (b), (d); :func:`seed_prompt`, :func:`rl_prompt`), which reads
the dataset's own strings (a record's ``raw`` field, e.g. the unstripped GSM8K question and its worked answer with
``<<...>>`` annotations) where a record has them. ``rlscaling prompts`` prints what a config builds.

``consistent`` GSM8K layout (exemplars separated by a blank line, the prompt ends ``Answer:``)::

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

from rlscaling.study import check_prompt_style, prompt_style
from rlscaling.tasks import families, family, kinds

#: verl's GSM8K instruction (examples/data_preprocess/gsm8k.py), appended to the evaluated question.
GSM8K_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'
MATH_INSTRUCTION = "Put your final answer within \\boxed{}."
LETTERS = "ABCD"
SEED_MMLU_INSTRUCTION = (
    "Answer the following multiple choice question about {subject}. Respond with a single sentence of the form "
    '"The correct answer is _", filling the blank with the letter corresponding to the correct answer '
    "(i.e., A, B, C or D)."
)
"""The seed's MMLU instruction line (``{subject}``: the raw subject id, e.g. ``abstract_algebra``)."""


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


def raw_text(record: Mapping[str, Any], key: str, fallback: str) -> str:
    """The dataset's own string ``record["raw"][key]`` (unstripped, as the source gives it), else ``record[fallback]``
    (records of sources without raw rows, e.g. ``procedural:``)."""
    raw = record.get("raw") or {}
    return str(raw[key]) if key in raw else str(record[fallback])


def first_exemplars(pool: Sequence[Mapping[str, Any]], shots: int, subject: str | None = None) -> list:
    """The seed's exemplars: the first ``shots`` pool rows in pool (dataset) order, the same for every item; with
    ``subject``, the first ``shots`` rows of that subject (MMLU). Too few rows -> ValueError."""
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    rows = [p for p in pool if subject is None or p.get("subject") == subject]
    if shots > len(rows):
        where = f" of subject {subject!r}" if subject is not None else ""
        raise ValueError(f"{shots}-shot prompt needs {shots} exemplars{where} but the few-shot pool has {len(rows)}")
    return list(rows[:shots])


def _seed_gsm8k_answer(ex: Mapping[str, Any]) -> str:
    """An exemplar's worked answer as the seed shows it: the dataset's ``answer`` (with ``<<...>>`` annotations and
    the ``#### n`` line); for records without raw rows, the record's solution ending ``#### n``."""
    raw = ex.get("raw") or {}
    return str(raw["answer"]) if "answer" in raw else _gsm8k_solution(ex)


def seed_gsm8k_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int) -> str:
    r"""The seed's GSM8K prompt (seed_recipe.md (a), version G3). 0-shot: ``{question} {I}``. k-shot: blocks
    ``Question: {q_i}\nAnswer: {a_i}\n`` of the first k pool rows (``q_i``, ``a_i`` stripped) joined by ``\n``, one
    more ``\n``, then ``\nQuestion: {question}\n{I}\nAnswer: `` (ending in a space)."""
    question = raw_text(item, "question", "question")
    if shots == 0:
        return f"{question} {GSM8K_INSTRUCTION}"
    blocks = [
        f"Question: {raw_text(ex, 'question', 'question').strip()}\nAnswer: {_seed_gsm8k_answer(ex).strip()}\n"
        for ex in first_exemplars(pool, shots)
    ]
    return "\n".join(blocks) + "\n" + f"\nQuestion: {question}\n{GSM8K_INSTRUCTION}\nAnswer: "


def seed_math_prompt(item: Mapping[str, Any], shots: int = 0) -> str:
    r"""The seed's MATH prompt: ``{problem}\n\n{I}`` (0-shot only; the seed has no few-shot MATH prompt)."""
    if shots:
        raise ValueError(f"the seed's MATH prompt is 0-shot only, got {shots} shots")
    return f"{raw_text(item, 'problem', 'question')}\n\n{GSM8K_INSTRUCTION}"


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


PROMPTS = {"gsm8k": gsm8k_prompt, "math": math_prompt, "mmlu": mmlu_prompt}
"""Benchmark family -> its ``consistent`` prompt ``(item, pool, shots, seed[, instruction=True]) -> str``; one per
registered family (:mod:`rlscaling.tasks`; tests/test_tasks.py). Only a family whose ``instruction`` is set is passed
``instruction``."""
SEED_PROMPTS = {
    "gsm8k": lambda item, pool, shots: seed_gsm8k_prompt(item, pool or [], shots),
    "math": lambda item, pool, shots: seed_math_prompt(item, shots),
    "mmlu": seed_mmlu_prompt,
}
"""Benchmark family -> the seed study's prompt ``(item, pool, shots) -> str``; one per registered family."""


def _prompt_family(benchmark: str, table: Mapping[str, Any]):
    if benchmark not in kinds() or benchmark not in table:
        known = [k for k in kinds() if k in table]
        raise ValueError(f"unknown benchmark {benchmark!r}; prompts exist for {', '.join(known)}")
    return family(benchmark)


def seed_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None, shots: int, benchmark: str) -> str:
    """The seed study's evaluation prompt of one item (no chat template; see the ``seed_*_prompt`` functions)."""
    _prompt_family(benchmark, SEED_PROMPTS)
    return SEED_PROMPTS[benchmark](item, pool, shots)


def rl_prompt(item: Mapping[str, Any], style: str, instruction: bool = False, seed: int = 0) -> str:
    """The GRPO prompt text of one training item, before any chat template: ``consistent``, the 0-shot evaluation
    prompt (:func:`gsm8k_prompt`, ``instruction`` as ``data.rl_train.instruction``); ``seed``, verl's GSM8K row
    content ``{question} {I}`` (the seed renders it through the tokenizer's chat template as one user message)."""
    if style == "seed":
        return f"{raw_text(item, 'question', 'question')} {GSM8K_INSTRUCTION}"
    return gsm8k_prompt(item, [], 0, seed, instruction=instruction)


def build_prompts(
    items: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    shots: int,
    seed: int,
    benchmark: str,
    instruction: bool = False,
    style: str = "consistent",
) -> list[str]:
    """One prompt per item for ``benchmark`` (a registered family: ``gsm8k``, ``math``, ``mmlu``); same order as
    ``items``.

    ``style`` ``seed`` builds the seed's prompts (:func:`seed_prompt`; ``seed`` and ``instruction`` are not read)."""
    fam = _prompt_family(benchmark, PROMPTS)
    if check_prompt_style(style) == "seed":
        return [seed_prompt(it, pool, shots, benchmark) for it in items]
    if instruction and not fam.instruction:
        with_instruction = ", ".join(f.kind for f in families() if f.instruction)
        raise ValueError(f"instruction=True is only defined for {with_instruction}, not {benchmark!r}")
    build = PROMPTS[benchmark]
    extra = {"instruction": True} if instruction else {}
    return [build(it, pool, shots, seed, **extra) for it in items]


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


# --------------------------------------------------------------------------------------------- `rlscaling prompts`


def records_from_rows(path: str, kind: str, split: str) -> list[dict]:
    """Dataset records from a JSON-lines file of rows in the dataset's own format (GSM8K ``question`` + ``answer``
    ending ``#### n``; MATH ``problem`` + ``solution``; MMLU ``question``, ``subject``, ``choices``, ``answer``),
    converted as the hub rows are (``rlscaling.data.sources``); errors name ``path:line``."""
    from rlscaling.data.sources import HF_LOADERS, DataSourceError, check_answer, validate_record
    from rlscaling.io import iter_jsonl

    records = []
    for index, (lineno, row) in enumerate(iter_jsonl(path)):
        where = f"{path}:{lineno}"
        try:
            rec = validate_record(HF_LOADERS[kind].convert(row, index, split), where)
        except KeyError as exc:
            raise DataSourceError(f"{where}: a {kind} row needs the field {exc.args[0]!r}") from None
        except DataSourceError as exc:
            raise DataSourceError(f"{where}: {exc}") from None
        records.append(check_answer(rec, kind, where))
    return records


def render_prompts(
    cfg: Mapping[str, Any], benchmark: str, shots: int, items: Sequence, pool: Sequence, rl: bool
) -> str:
    """The text ``rlscaling prompts`` prints: every prompt a (validated) config builds for ``items`` -- evaluation
    prompts of ``benchmark`` at ``shots`` (exemplars from ``pool``), or with ``rl`` the GRPO prompt text before the
    chat template -- each verbatim between delimiter lines, then as a Python string literal (trailing spaces and
    newlines visible)."""
    style = prompt_style(cfg)
    truths = [""] * len(items)
    if rl:
        from rlscaling.rewards.seed import seed_rl_answer

        truths = [f"; ground truth {seed_rl_answer(it) if style == 'seed' else it['answer']!r}" for it in items]
        rl_train = cfg["data"]["rl_train"]
        texts = [rl_prompt(it, style, bool(rl_train.get("instruction", False)), int(cfg["seed"])) for it in items]
        what = f"GRPO prompt, prompts.style {style}, before the chat template" + (
            " (verl renders it as one user message with the tokenizer's own chat template)" if style == "seed" else ""
        )
    else:
        spec = cfg["benchmarks"][benchmark]
        kind = spec.get("kind", benchmark)
        instruction = bool(spec.get("instruction", False)) and family(kind).instruction
        texts = build_prompts(items, pool, shots, int(cfg["seed"]), kind, instruction=instruction, style=style)
        what = f"{benchmark} {shots}-shot evaluation prompt, prompts.style {style}"
    out = []
    for i, (item, text) in enumerate(zip(items, texts), start=1):
        out.append(f"===== prompt {i} of {len(texts)}: {item['id']} ({what}; {len(text)} characters) =====")
        out.append(text)
        out.append(f"===== end of prompt {i}{truths[i - 1]}; as a Python string: =====")
        out.append(repr(text))
    return "\n".join(out) + "\n"
