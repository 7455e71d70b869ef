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
``\\n#### <answer>`` (with the source option ``format=math``, :data:`FORMATS`, MATH's ``The answer is
$\\boxed{<answer>}$.`` instead: a MATH-format set for RL rows of the math family); ``subject`` is the evaluation
stratum of an arithmetic item (:func:`stratum`: ``3term``, ``3term_negpartial``, ``4term``, ...) and
``gsm_symbolic`` for that task.

Splits are disjoint by construction, for any seeds: every question text is assigned to exactly one split by a
hash of the text (``assigned_split``), and a split keeps only its own questions. The reasoning-gym seed is also
derived from ``(seed, split)`` (``split_seed``) so splits draw different streams, and duplicates within a split
are dropped. :func:`generate` samples one split; :func:`generate_union` several (``split: test+validation``),
taking every question of a smaller term count before any of a larger one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import count, islice
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
FORMATS = ("gsm8k", "math")
"""Record formats (source option ``format``): ``gsm8k`` (the default: ``solution`` ends ``\\n#### <answer>``) and
``math`` (MATH's: ``solution`` ends ``The answer is $\\boxed{<answer>}$.``, for RL rows of the math family)."""
_CHUNK = 1024  # reasoning-gym items per dataset instance; part of the determinism contract
UNION_PATIENCE = 50_000  # draws without a new question that exhaust a cell of a split union (generate_union)
STRATA = ("3term", "3term_negpartial", "4term")  # the strata of a terms=3-4 evaluation set (stratum)
_GSM_SYMBOLIC_SUFFIX = " Give the result as your final answer. Do not include units."
_TOKEN = re.compile(r"\s*(-?\d+|[-+*/])")
_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class ProceduralError(ValueError):
    """Bad task, difficulty option or an unsatisfiable request."""


class ExhaustedError(ProceduralError):
    """The question space of a request holds fewer than ``n`` unique questions (as far as the draws found)."""


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
    if op == "/" and (b == 0 or a % b):
        raise ValueError(f"cannot render {expression!r}: {a} / {b} is not an exact integer division")
    return a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b


def _worked_steps(expression: str, sign_slip: bool = False) -> tuple[list[tuple[int, str, int, int]], int]:
    """``([(left, op, right, result), ...], final value)`` of :func:`render_steps`, one tuple per written step."""
    tokens = _tokenize(expression)
    steps: list[tuple[int, str, int, int]] = []
    # precedence pass: collapse * and / into single terms
    terms: list[int] = [int(tokens[0])]
    adds: list[str] = []
    for op, num in zip(tokens[1::2], tokens[2::2]):
        b = int(num)
        if op in "*/":
            value = _apply(terms[-1], op, b, expression)
            value = abs(value) if sign_slip else value
            steps.append((terms[-1], op, b, value))
            terms[-1] = value
        else:
            adds.append(op)
            terms.append(b)
    total = terms[0]
    for op, b in zip(adds, terms[1:]):
        value = _apply(total, op, b, expression)
        value = abs(value) if sign_slip else value
        steps.append((total, op, b, value))
        total = value
    return steps, total


def render_steps(expression: str, sign_slip: bool = False) -> tuple[str, str]:
    """Worked steps for an integer expression without parentheses, and its canonical answer.

    ``"12 + 7 - 5"`` -> ``("12 + 7 = 19. 19 - 5 = 14.", "14")``. ``*`` and ``/`` are done first (left
    to right, one step each, division must be exact), then ``+``/``-`` left to right. A single number
    ``"7"`` renders as ``"7 = 7."``. Anything else (parentheses, decimals) raises ``ValueError``.

    ``sign_slip=True`` renders a consistent student error instead: every negative step result is written, and
    carried on, without its minus sign (``"3 - 5 - 6"`` -> ``("3 - 5 = 2. 2 - 6 = 4.", "4")``).
    """
    steps, total = _worked_steps(expression, sign_slip)
    text = " ".join(f"{a} {op} {b} = {value}." for a, op, b, value in steps)
    return text or f"{total} = {total}.", str(total)


def stratum(expression: str) -> str:
    """The evaluation stratum of an arithmetic expression (its records' ``subject``), a pure function of the text:
    ``"3term"`` (3 operands, no negative partial sum: ``"3 + 7 - 5"``), ``"3term_negpartial"`` (3 operands and a
    negative partial sum: ``"3 - 7 + 5"``, as 3 - 7 = -4), else ``f"{k}term"`` for ``k`` operands, whatever their
    partial sums (``"4term"``, ``"2term"``, ``"1term"``).

    A *partial sum* is the result of a worked step of :func:`render_steps` other than the last; for a ``+``/``-``
    chain, the running value after each operation but the last. The final result does not count (``"5 - 3 - 6"`` =
    -4 is ``"3term"``; ``"3 - 5 - 6"``, partial sum -2, is negpartial), nor does a negative first operand
    (``"-3 + 5 + 1"``). Expressions that :func:`render_steps` refuses raise ``ValueError``.
    """
    steps, _ = _worked_steps(expression)
    operands = len(steps) + 1  # one written step per operator
    if operands != 3:
        return f"{operands}term"
    return "3term_negpartial" if any(value < 0 for *_, value in steps[:-1]) else "3term"


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
    text = str(value).strip().lower()  # str(True) == "True"
    if text not in _BOOLS:
        raise ProceduralError(f"difficulty {key}={value!r}: expected true/false")
    return _BOOLS[text]


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
class _Item:  # field order = record key order
    question: str
    answer: str
    solution: str
    subject: str


def _render_expression_item(raw: Mapping[str, Any]) -> _Item:
    expression = raw["metadata"]["expression"]
    steps, answer = render_steps(expression)
    expected = canonical_number(str(raw["answer"]))
    if answer != expected:  # the renderer and reasoning-gym must agree on every item
        raise AssertionError(f"worked steps for {expression!r} end at {answer}, reasoning-gym says {expected}")
    return _Item(f"What is {expression}?", answer, f"{steps}\n#### {answer}", stratum(expression))


def _render_gsm_symbolic_item(raw: Mapping[str, Any]) -> _Item:
    question = raw["question"].removesuffix(_GSM_SYMBOLIC_SUFFIX)
    answer = canonical_number(str(raw["answer"]))
    if answer is None:
        raise ProceduralError(f"gsm_symbolic answer {raw['answer']!r} is not a number")
    cot = str(raw["metadata"]["answer_cot"]).rstrip()
    body, _, final = cot.partition("####")
    if final.strip() and canonical_number(final.strip()) != answer:
        raise AssertionError(f"gsm_symbolic worked solution ends at {final.strip()}, reasoning-gym says {answer}")
    return _Item(question.strip(), answer, f"{body.rstrip()}\n#### {answer}", "gsm_symbolic")


_RENDERERS = {
    "chain_sum": _render_expression_item,
    "basic_arithmetic": _render_expression_item,
    "gsm_symbolic": _render_gsm_symbolic_item,
}


def _raw_stream(task: str, base_seed: int, config: Mapping[str, Any]) -> Iterator[dict]:
    """reasoning-gym items from chunks seeded ``base_seed + k * _CHUNK`` (k = 0, 1, ...), forever."""
    import reasoning_gym

    for k in count():
        dataset = reasoning_gym.create_dataset(task, seed=base_seed + k * _CHUNK, size=_CHUNK, **config)
        yield from (dataset[idx] for idx in range(_CHUNK))


def source_spec(task: str, **difficulty: Any) -> str:
    """The ``procedural:`` spec string that reproduces ``generate(task, ..., **difficulty)``."""
    query = "&".join(f"{k}={_spec_value(v)}" for k, v in sorted(difficulty.items()))
    return f"procedural:{task}" + (f"?{query}" if query else "")


def _spec_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _candidates(task: str, base_seed: int, split: str, config: Mapping[str, Any]) -> Iterator[_Item | None]:
    """One value per reasoning-gym draw of the stream seeded ``base_seed``: the rendered item if its question is
    assigned to ``split`` and new in this stream, else ``None``."""
    render = _RENDERERS[task]
    seen: set[str] = set()
    for raw in _raw_stream(task, base_seed, config):
        item = render(raw)
        if item.question in seen or assigned_split(item.question) != split:
            yield None
        else:
            seen.add(item.question)
            yield item


def split_format(difficulty: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(format, the difficulty options)`` of a request's options: ``format`` (one of :data:`FORMATS`, default
    ``gsm8k``) is no difficulty option; an unknown format -> ProceduralError."""
    fmt = str(difficulty.get("format", "gsm8k"))
    if fmt not in FORMATS:
        raise ProceduralError(f"unknown format {fmt!r}; procedural formats are {', '.join(FORMATS)}")
    return fmt, {k: v for k, v in difficulty.items() if k != "format"}


def _record(rid: str, item: _Item, source: str, fmt: str = "gsm8k") -> dict:
    if fmt == "math":  # the worked steps, then MATH's boxed answer in place of GSM8K's "#### <answer>" line
        steps = item.solution.rpartition("\n#### ")[0]
        item = _Item(item.question, item.answer, f"{steps}\nThe answer is $\\boxed{{{item.answer}}}$.", item.subject)
    return {"id": rid, **asdict(item), "level": None, "choices": None, "source": source}


def generate(task: str, n: int, seed: int, split: str, max_draws: int | None = None, **difficulty: Any) -> list[dict]:
    """``n`` unique records of ``task`` for ``split``, deterministic in ``(task, n, seed, split, difficulty)``.

    Draws reasoning-gym items from the ``split_seed(seed, split)`` stream and keeps those whose question
    is assigned to ``split`` and not seen before. A prefix property holds: ``generate(.., n)`` is the
    first ``n`` items of ``generate(.., n + m)``. Ids are ``{task}-{split}-s{seed}-{index:05d}``; ``subject`` is
    the :func:`stratum` of an arithmetic task's expression, ``"gsm_symbolic"`` for that task. Raises
    ``ExhaustedError`` if ``max_draws`` (default ``max(20_000, 100 * n)``) draws do not yield ``n`` items.
    """
    _check_split(split)
    if n < 0:
        raise ProceduralError(f"n must be >= 0, got {n}")
    fmt, options = split_format(difficulty)
    config = difficulty_config(task, **options)
    limit = max_draws if max_draws is not None else max(20_000, 100 * n)
    source = source_spec(task, **difficulty)
    records: list[dict] = []
    stream = _candidates(task, split_seed(seed, split), split, config)
    draws = 0
    while len(records) < n:
        if draws >= limit:
            raise ExhaustedError(
                f"{source}: only {len(records)} unique {split!r} questions of {n} requested after {limit} "
                f"draws (seed {seed}); widen the difficulty ranges or lower n"
            )
        item = next(stream)
        draws += 1
        if item is not None:
            records.append(_record(f"{task}-{split}-s{seed}-{len(records):05d}", item, source, fmt))
    return records


def _union_cell(task: str, seed: int, split: str, terms: int | None, config: dict, patience: int) -> Iterator[_Item]:
    """The new questions of one cell of a split union, until ``patience`` consecutive draws bring none."""
    base_seed = split_seed(seed, split)  # a union without terms reads generate()'s own streams
    if terms is not None:
        config = {**config, "min_terms": terms, "max_terms": terms}
        base_seed = _hash_int(f"rlscaling-procedural:{int(seed)}:{split}:t{terms}")
    idle = 0
    for item in _candidates(task, base_seed, split, config):
        if item is not None:
            idle = 0
            yield item
        elif (idle := idle + 1) >= patience:
            return


def generate_union(
    task: str, n: int, seed: int, splits: Sequence[str], patience: int | None = None, **difficulty: Any
) -> list[dict]:
    """``n`` unique records of ``task`` from several splits, every question of a smaller term count first.

    Cells are ``(term count, split)`` pairs read in order: the counts of ``terms`` ascending, and for each the
    ``splits`` in the given order. A cell is a :func:`generate`-like stream of its split with ``terms`` fixed to
    its count (seeded by ``(seed, split, count)``); its new questions are taken in stream order until ``patience``
    (default ``UNION_PATIENCE``) consecutive draws bring none, then the next cell is read. So small question
    spaces are covered whole (``terms=3-4&digits=1`` over ``test+validation``: all 783 3-term chains, then 4-term
    ones). No question repeats (splits are disjoint); deterministic; ``(.., n)`` is a prefix of ``(.., n + m)``.
    Ids: ``{task}-{split}-t{count}-s{seed}-{index in cell:05d}``. Without ``terms``, one cell per split: generate's
    stream and ids. Raises ``ExhaustedError`` with the count per cell if every cell runs dry before ``n``.
    """
    for split in splits:
        _check_split(split)
    if not splits or len(set(splits)) != len(splits):
        raise ProceduralError(f"a split union needs distinct splits, got {'+'.join(splits)!r}")
    if n < 0:
        raise ProceduralError(f"n must be >= 0, got {n}")
    fmt, options = split_format(difficulty)
    config = difficulty_config(task, **options)
    patience = UNION_PATIENCE if patience is None else patience
    source = source_spec(task, **difficulty)
    records: list[dict] = []
    counts: list[str] = []
    for terms in range(config["min_terms"], config["max_terms"] + 1) if "min_terms" in config else [None]:
        for split in splits:
            tag = "" if terms is None else f"t{terms}-"
            items = list(islice(_union_cell(task, seed, split, terms, config, patience), n - len(records)))
            records += [_record(f"{task}-{split}-{tag}s{seed}-{k:05d}", it, source, fmt) for k, it in enumerate(items)]
            counts.append(f"{split}{'' if terms is None else f' {terms} terms'}: {len(items)}")
            if len(records) == n:
                return records
    raise ExhaustedError(
        f"{source}: only {len(records)} unique {'+'.join(splits)!r} questions of {n} requested ({', '.join(counts)}; "
        f"each stopped after {patience} draws without a new question, seed {seed}); widen the difficulty or lower n"
    )
