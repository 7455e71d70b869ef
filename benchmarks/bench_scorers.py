"""Scorer throughput on one core: completions scored per second, per GSM8K mode and per MATH scorer.

Synthetic base-model-like GSM8K completions (~200-400 characters, seeded): worked steps and a
``#### n`` line, some with instruction collapse (new invented "Question: ... Answer: ... #### m"
problems after the answer), some without any marker, some ending in a truncated sentence.

Run: ``python benchmarks/bench_scorers.py [--n 100000] [--n-math 500] [--seed 0]``.
The GSM8K target is 200k completions/s per mode; the printed ratio is measured / target.
"""

from __future__ import annotations

import argparse
import random
import time

from rlscaling.rewards import MODES, score_gsm8k, score_math
from rlscaling.rewards.math import MATH_SCORERS

TARGET_PER_S = 200_000
_NAMES = ("Tom", "Ana", "Liu", "Sara", "Omar", "Kate")
_ITEMS = ("apples", "books", "marbles", "dollars", "pencils", "cookies")


def _worked_steps(rng: random.Random) -> tuple[str, int]:
    """A few arithmetic steps in GSM8K style; returns (text, final value)."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 12)
    total = (a + b) * c
    text = (
        f"{name} starts with {a} {item} and gets {b} more, so {name} has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} "
        f"{item}. Each of the {c} boxes holds that many, so the total is {a + b} * {c} = <<{a + b}*{c}={total}>>"
        f"{total:,} {item}."
    )
    return text, total


def synthetic_completion(rng: random.Random) -> tuple[str, str]:
    """One (completion, ground truth) pair; the completion is ~200-400 characters."""
    steps, answer = _worked_steps(rng)
    kind = rng.random()
    if kind < 0.5:  # clean: steps then the marker
        text = f"{steps}\n#### {answer}"
    elif kind < 0.8:  # instruction collapse: answer, then invented problems with their own markers
        text = f"{steps}\n#### {answer}\n\n"
        while len(text) < 300:
            more, value = _worked_steps(rng)
            text += f"Question: {rng.choice(_NAMES)} has more {rng.choice(_ITEMS)}.\nAnswer: {more}\n#### {value}\n\n"
    elif kind < 0.95:  # no marker: the answer is only the last number of the prose
        text = f"{steps} The answer is {answer}."
    else:  # truncated mid-sentence, no answer at all
        text = steps[: rng.randint(150, len(steps))]
    truth = str(answer if rng.random() < 0.7 else answer + rng.randint(1, 5))
    return text[:400], truth


def _gsm8k_rate(mode: str, pairs: list[tuple[str, str]]) -> float:
    """Completions/s of ``score_gsm8k`` in ``mode``, timed as a plain loop (best of 3 runs)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for response, truth in pairs:
            score_gsm8k(response, truth, mode)
        best = min(best, time.perf_counter() - start)
    return len(pairs) / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="GSM8K completions per mode")
    parser.add_argument("--n-math", type=int, default=500, help="completions scored with math-verify")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    pairs = [synthetic_completion(rng) for _ in range(args.n)]
    mean_chars = sum(len(r) for r, _ in pairs) / len(pairs)
    print(f"{args.n} synthetic completions, mean {mean_chars:.0f} characters, seed {args.seed}")
    print(f"{'mode':<16} {'completions/s':>14} {'vs 200k/s':>10} {'accuracy':>9}")
    for mode in MODES:
        rate = _gsm8k_rate(mode, pairs)
        accuracy = sum(score_gsm8k(r, t, mode) for r, t in pairs) / len(pairs)
        print(f"{mode:<16} {rate:>14,.0f} {rate / TARGET_PER_S:>9.2f}x {accuracy:>9.3f}")

    # MATH: boxed answers; a third need math-verify (equal value, different form), the rest are exact/wrong.
    forms = [(r"\frac{{{n}}}{{{d}}}", "{v}"), (r"\dfrac{{{n}}}{{{d}}}", r"\frac{{{n}}}{{{d}}}"), ("{v}", "{v}")]
    math_pairs = []
    for _ in range(args.n_math):
        n, d = rng.randint(1, 9), rng.choice((2, 4, 5, 8))
        gold_form, pred_form = rng.choice(forms)
        v = n / d
        gold = gold_form.format(n=n, d=d, v=v)
        pred = pred_form.format(n=n if rng.random() < 0.7 else n + 1, d=d, v=v)
        math_pairs.append((f"We simplify step by step and get \\boxed{{{pred}}}.", gold))
    score_math(*math_pairs[0])  # start the math-verify worker outside the timed loop
    for scorer in MATH_SCORERS:
        start = time.perf_counter()
        for response, truth in math_pairs:
            score_math(response, truth, scorer=scorer)
        rate = len(math_pairs) / (time.perf_counter() - start)
        print(f"{scorer:<16} {rate:>14,.0f} {'(n/a)':>10}  on {args.n_math} boxed answers")


if __name__ == "__main__":
    main()
