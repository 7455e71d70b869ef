"""MMLU: multiple choice (2-4 choices), scored by the answer letter (the project's and the seed's extraction)."""

from __future__ import annotations

from .registry import Family, Scorer, scored_by_rewards

KIND = "mmlu"

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
)
