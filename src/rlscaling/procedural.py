"""reasoning-gym tasks rendered as GSM8K-style records with worked steps.

Tasks (``TASKS``):

- ``chain_sum`` — left-to-right ``+``/``-`` chains; the embedded study's default, because tiny models
  partly learn it within minutes of pre-training (they learn ``gsm_symbolic``'s format, not its math).
- ``basic_arithmetic`` — reasoning-gym's linear generator restricted to ``+``/``-`` without
  parentheses. Its no-parentheses generator evaluates ``*`` and ``/`` left to right, against operator
  precedence (``2 + 3 * 4`` is labelled 20), so ``*``/``/`` are not offered. Its operands are drawn
  from ``[0, 10**digits]`` inclusive (``digits=1`` can give 10).
- ``gsm_symbolic`` — templated GSM8K word problems with reasoning-gym's own worked solutions.

Difficulty keys (``terms``, ``digits`` as ``"lo-hi"`` ranges or ints; ``negation`` as a bool) map onto
reasoning-gym's config fields ``min_terms``/``max_terms``, ``min_digits``/``max_digits`` and
``allow_negation``. Records follow docs/architecture.md; ``solution`` is the worked steps followed by
``\\n#### <answer>``.

Splits are disjoint by construction, for any seeds: every question text is assigned to exactly one
split by a hash of the text (``assigned_split``), and a split keeps only its own questions. The
reasoning-gym seed is also derived from ``(seed, split)`` (``split_seed``) so splits draw different
streams, and duplicates within a split are dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rlscaling.rewards import canonical_number

#: Fraction of the question space assigned to each split (sums to 1).
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}
TASKS = ("chain_sum", "basic_arithmetic", "gsm_symbolic")
#: Difficulty options each task accepts (see ``difficulty_config``).
TASK_OPTIONS: dict[str, tuple[str, ...]] = {
    "chain_sum": ("terms", "digits", "negation"),
    "basic_arithmetic": ("terms", "digits"),
    "gsm_symbolic": (),
}
_CHUNK = 1024  # reasoning-gym items per dataset instance; part of the determinism contract
_GSM_SYMBOLIC_SUFFIX = " Give the result as your final answer. Do not include units."
_TOKEN = re.compile(r"\s*(-?\d+|[-+*/])")


class ProceduralError(ValueError):
    """Bad task, difficulty option or an unsatisfiable request."""


# --------------------------------------------------------------------------- seeds and splits


def _hash_int(text: str, bits: int = 62) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> (64 - bits)


def split_seed(seed: int, split: str) -> int:
    """reasoning-gym seed for ``(seed, split)``: a 62-bit hash, so streams of nearby seeds never overlap.

    (reasoning-gym seeds item ``i`` with ``seed + i``; consecutive seeds would share almost all items.)
    """
    _check_split(split)
    return _hash_int(f"rlscaling-procedural:{int(seed)}:{split}")


def assigned_split(question: str) -> str:
    """The one split a question text belongs to (hash of the text against ``SPLIT_FRACTIONS``)."""
    u = _hash_int(f"rlscaling-split:{question}") / 2**62
    edge = 0.0
    for name, frac in SPLIT_FRACTIONS.items():
        edge += frac
        if u < edge:
            return name
    return name  # u rounds up to 1.0 only through float error; the last split takes it


def _check_split(split: str) -> None:
    if split not in SPLIT_FRACTIONS:
        raise ProceduralError(f"unknown split {split!r}; procedural splits are {sorted(SPLIT_FRACTIONS)}")


# --------------------------------------------------------------------------- worked steps


def _tokenize(expression: str) -> list[str]:
    tokens, pos = [], 0
    expression = expression.strip()
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if not m:
            raise ValueError(f"cannot render {expression!r}: unexpected {expression[pos:].strip()[:10]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    # a '-' glued to a number directly after another number is subtraction: "5 -3" -> 5 - 3
    out: list[str] = []
    for tok in tokens:
        if out and _is_number(out[-1]) and tok.startswith("-") and tok != "-":
            out.extend(["-", tok[1:]])
        else:
            out.append(tok)
    if not out or len(out) % 2 == 0 or not all(_is_number(t) if i % 2 == 0 else t in "+-*/" for i, t in enumerate(out)):
        raise ValueError(f"cannot render {expression!r}: expected 'number (op number)*' with ops + - * /")
    return out


def _is_number(tok: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", tok))


def _apply(a: int, op: str, b: int, expression: str) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 or a % b:
        raise ValueError(f"cannot render {expression!r}: {a} / {b} is not an exact integer division")
    return a // b


def render_steps(expression: str, sign_slip: bool = False) -> tuple[str, str]:
    """Worked steps for an integer expression without parentheses, and its canonical answer.

    ``"12 + 7 - 5"`` -> ``("12 + 7 = 19. 19 - 5 = 14.", "14")``. ``*`` and ``/`` are done first (left
    to right, one step each, division must be exact), then ``+``/``-`` left to right. A single number
    ``"7"`` renders as ``"7 = 7."``. Anything else (parentheses, decimals) raises ``ValueError``.

    ``sign_slip=True`` renders a consistent student error instead: every negative step result is written, and
    carried on, without its minus sign (``"3 - 5 - 6"`` -> ``("3 - 5 = 2. 2 - 6 = 4.", "4")``).
    """
    tokens = _tokenize(expression)
    steps: list[str] = []
    # precedence pass: collapse * and / into single terms
    terms: list[int] = [int(tokens[0])]
    adds: list[str] = []
    for op, num in zip(tokens[1::2], tokens[2::2]):
        b = int(num)
        if op in "*/":
            value = _apply(terms[-1], op, b, expression)
            value = abs(value) if sign_slip else value
            steps.append(f"{terms[-1]} {op} {b} = {value}.")
            terms[-1] = value
        else:
            adds.append(op)
            terms.append(b)
    total = terms[0]
    for op, b in zip(adds, terms[1:]):
        value = _apply(total, op, b, expression)
        value = abs(value) if sign_slip else value
        steps.append(f"{total} {op} {b} = {value}.")
        total = value
    if not steps:
        steps.append(f"{total} = {total}.")
    return " ".join(steps), str(total)


# --------------------------------------------------------------------------- difficulty


def _parse_range(key: str, value: Any) -> tuple[int, int]:
    if isinstance(value, bool):
        raise ProceduralError(f"difficulty {key}={value!r}: expected an int or a 'lo-hi' range")
    if isinstance(value, int):
        lo = hi = value
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = (int(v) for v in value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        parts = [int(p) for p in value.split("-")]
        lo, hi = parts[0], parts[-1]
    else:
        raise ProceduralError(f"difficulty {key}={value!r}: expected an int or a 'lo-hi' range like '3-4'")
    if not 1 <= lo <= hi:
        raise ProceduralError(f"difficulty {key}={value!r}: need 1 <= lo <= hi")
    return lo, hi


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise ProceduralError(f"difficulty {key}={value!r}: expected true/false")


def difficulty_config(task: str, **difficulty: Any) -> dict[str, Any]:
    """Map ``terms``/``digits``/``negation`` onto reasoning-gym config fields for ``task``.

    Unknown task or option -> ``ProceduralError`` naming it. Fixed fields pin down what the renderer
    supports (``basic_arithmetic``: ``operators=("+", "-")``, ``allow_parentheses=False``).
    """
    if task not in TASK_OPTIONS:
        raise ProceduralError(f"unknown procedural task {task!r}; known tasks: {', '.join(TASKS)}")
    allowed = TASK_OPTIONS[task]
    for key in difficulty:
        if key not in allowed:
            raise ProceduralError(
                f"unknown option {key!r} for procedural task {task!r}; allowed: {', '.join(allowed) or 'none'}"
            )
    config: dict[str, Any] = {}
    if task == "basic_arithmetic":
        config.update(operators=("+", "-"), allow_parentheses=False, allow_negation=False)
    for key, value in difficulty.items():
        if key in ("terms", "digits"):
            lo, hi = _parse_range(key, value)
            config[f"min_{key}"], config[f"max_{key}"] = lo, hi
        elif key == "negation":
            config["allow_negation"] = _parse_bool(key, value)
    return config


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class _Item:
    question: str
    solution: str
    answer: str


def _render_expression_item(raw: Mapping[str, Any]) -> _Item:
    expression = raw["metadata"]["expression"]
    steps, answer = render_steps(expression)
    expected = canonical_number(str(raw["answer"]))
    if answer != expected:  # the renderer and reasoning-gym must agree on every item
        raise AssertionError(f"worked steps for {expression!r} end at {answer}, reasoning-gym says {expected}")
    return _Item(f"What is {expression}?", f"{steps}\n#### {answer}", answer)


def _render_gsm_symbolic_item(raw: Mapping[str, Any]) -> _Item:
    question = raw["question"]
    if question.endswith(_GSM_SYMBOLIC_SUFFIX):
        question = question[: -len(_GSM_SYMBOLIC_SUFFIX)]
    answer = canonical_number(str(raw["answer"]))
    if answer is None:
        raise ProceduralError(f"gsm_symbolic answer {raw['answer']!r} is not a number")
    cot = str(raw["metadata"]["answer_cot"]).rstrip()
    body, _, final = cot.partition("####")
    if final.strip() and canonical_number(final.strip()) != answer:
        raise AssertionError(f"gsm_symbolic worked solution ends at {final.strip()}, reasoning-gym says {answer}")
    body = body.rstrip()
    return _Item(question.strip(), f"{body}\n#### {answer}", answer)


_RENDERERS = {
    "chain_sum": _render_expression_item,
    "basic_arithmetic": _render_expression_item,
    "gsm_symbolic": _render_gsm_symbolic_item,
}


def _raw_stream(task: str, base_seed: int, config: Mapping[str, Any]) -> Iterator[dict]:
    """reasoning-gym items from chunks seeded ``base_seed + k * _CHUNK`` (k = 0, 1, ...), forever."""
    import reasoning_gym

    k = 0
    while True:
        dataset = reasoning_gym.create_dataset(task, seed=base_seed + k * _CHUNK, size=_CHUNK, **config)
        for idx in range(_CHUNK):
            yield dataset[idx]
        k += 1


def source_spec(task: str, **difficulty: Any) -> str:
    """The ``procedural:`` spec string that reproduces ``generate(task, ..., **difficulty)``."""
    query = "&".join(f"{k}={_spec_value(v)}" for k, v in sorted(difficulty.items()))
    return f"procedural:{task}" + (f"?{query}" if query else "")


def _spec_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def generate(task: str, n: int, seed: int, split: str, max_draws: int | None = None, **difficulty: Any) -> list[dict]:
    """``n`` unique records of ``task`` for ``split``, deterministic in ``(task, n, seed, split, difficulty)``.

    Draws reasoning-gym items from the ``split_seed(seed, split)`` stream and keeps those whose question
    is assigned to ``split`` and not seen before. A prefix property holds: ``generate(.., n)`` is the
    first ``n`` items of ``generate(.., n + m)``. Raises ``ProceduralError`` if ``max_draws`` (default
    ``max(20_000, 100 * n)``) draws do not yield ``n`` items (difficulty range too small for ``n``).
    """
    _check_split(split)
    if n < 0:
        raise ProceduralError(f"n must be >= 0, got {n}")
    config = difficulty_config(task, **difficulty)
    render = _RENDERERS[task]
    limit = max_draws if max_draws is not None else max(20_000, 100 * n)
    source = source_spec(task, **difficulty)
    records: list[dict] = []
    seen: set[str] = set()
    stream = _raw_stream(task, split_seed(seed, split), config)
    draws = 0
    while len(records) < n:
        if draws >= limit:
            raise ProceduralError(
                f"{source}: only {len(records)} unique {split!r} questions of {n} requested after {limit} "
                f"draws (seed {seed}); widen the difficulty ranges or lower n"
            )
        item = render(next(stream))
        draws += 1
        if item.question in seen or assigned_split(item.question) != split:
            continue
        seen.add(item.question)
        records.append(
            {
                "id": f"{task}-{split}-s{seed}-{len(records):05d}",
                "question": item.question,
                "answer": item.answer,
                "solution": item.solution,
                "subject": task,
                "level": None,
                "choices": None,
                "source": source,
            }
        )
    return records
