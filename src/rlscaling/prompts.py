"""Few-shot plain-text prompts for base models (no chat template), the seed study's prompts, and a prompt-length clip
report.

Two styles (config ``prompts.style``, :func:`prompt_style`): ``consistent`` (the default) and ``seed``, the seed
study's recipe (../shared/reference/seed_recipe.md (a), (b), (d); :func:`seed_prompt`, :func:`rl_prompt`), which reads
the dataset's own strings (a record's ``raw`` field, e.g. the unstripped GSM8K question and its worked answer with
``<<...>>`` annotations) where a record has them. ``rlscaling prompts`` prints what a config builds.

Each benchmark family declares its prompts in its module (``rlscaling.tasks.<family>``: ``Family.prompt`` and
``Family.seed_prompt``, e.g. :func:`gsm8k_prompt`); this module dispatches through the registry. The exemplar choice
they share is :mod:`rlscaling.tasks.prompt_parts` (``consistent``: drawn from the pool with a ``random.Random``
seeded by ``(seed, item id)``, never the item itself; ``seed``: the first rows of the pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlscaling.study import check_prompt_style, prompt_style
from rlscaling.tasks import Family, families, family, kinds
from rlscaling.tasks.gsm8k import gsm8k_prompt, seed_gsm8k_prompt  # noqa: F401  (re-exported, as the next two)
from rlscaling.tasks.math import MATH_INSTRUCTION, math_prompt, seed_math_prompt  # noqa: F401
from rlscaling.tasks.mmlu import LETTERS, SEED_MMLU_INSTRUCTION, mmlu_prompt, seed_mmlu_prompt  # noqa: F401
from rlscaling.tasks.prompt_parts import (  # noqa: F401  (re-exported: the prompt API of rlscaling.prompts)
    GSM8K_INSTRUCTION,
    first_exemplars,
    raw_text,
    select_exemplars,
)


def _prompt_family(benchmark: str) -> Family:
    if benchmark not in kinds():
        raise ValueError(f"unknown benchmark {benchmark!r}; prompts exist for {', '.join(kinds())}")
    return family(benchmark)


def seed_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None, shots: int, benchmark: str) -> str:
    """The seed study's evaluation prompt of one item (no chat template; the family's ``seed_prompt``, e.g.
    :func:`seed_gsm8k_prompt`); a family without one -> ValueError naming it."""
    build = _prompt_family(benchmark).seed_prompt
    if build is None:
        offered = ", ".join(f.kind for f in families() if f.seed_prompt is not None)
        raise ValueError(f"prompts.style seed: benchmark {benchmark!r} has no seed prompt; {offered} have one")
    return build(item, pool, shots)


def rl_prompt(
    item: Mapping[str, Any], style: str, instruction: bool = False, seed: int = 0, kind: str = "gsm8k"
) -> str:
    """The GRPO prompt text of one training item of family ``kind``, before any chat template. GSM8K:
    ``consistent``, the 0-shot evaluation prompt (:func:`gsm8k_prompt`, ``instruction`` as
    ``data.rl_train.instruction``); ``seed``, verl's GSM8K row content ``{question} {I}`` (the seed renders it through
    the tokenizer's chat template as one user message). Another family: its own 0-shot evaluation prompt of
    ``style`` (:func:`build_prompts`; MATH: :func:`math_prompt`, which asks for ``\\boxed{}`` itself)."""
    if kind != "gsm8k":
        return build_prompts([item], [], 0, seed, kind, style=style)[0]
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
    """One prompt per item for ``benchmark`` (a registered family) by its ``Family.prompt``; same order as ``items``.

    ``style`` ``seed`` builds the seed's prompts (:func:`seed_prompt`; ``seed`` and ``instruction`` are not read)."""
    fam = _prompt_family(benchmark)
    if check_prompt_style(style) == "seed":
        return [seed_prompt(it, pool, shots, benchmark) for it in items]
    if instruction and not fam.instruction:
        with_instruction = ", ".join(f.kind for f in families() if f.instruction)
        raise ValueError(f"instruction=True is only defined for {with_instruction}, not {benchmark!r}")
    build = fam.prompt
    if build is None:
        raise ValueError(f"benchmark family {benchmark!r} declares no prompt (Family.prompt in its module)")
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
