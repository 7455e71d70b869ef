"""MATH: LaTeX answers (``\\boxed{...}``) checked by math-verify (last or first box) and the seed's string match."""

from __future__ import annotations

from .registry import Family, Scorer, scored_by_rewards

KIND = "math"

FAMILY = Family(
    kind=KIND,
    title="MATH",
    scorers=(
        Scorer("math_verify", scored_by_rewards(KIND, "math_verify"), label="math-verify"),
        Scorer("math_verify_first", scored_by_rewards(KIND, "math_verify_first")),
        Scorer(
            "seed_math",
            scored_by_rewards(KIND, "seed_math"),
            label="seed's MATH (custom flexible, string match)",
            seed=True,
        ),
    ),
    default_scorer="math_verify",
    seed_few_shot=False,  # the seed's MATH prompt is 0-shot only
    hub_names=("math",),
)
