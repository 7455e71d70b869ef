"""GSM8K: one-number answers (``#### n``), the project's three scorers and the seed study's three.

Colours (Okabe-Ito vermillion / blue / bluish green, distinct for colour-blind readers); the seed's own scorers in
lighter tints of the same hues, so a seed scorer sits beside the project's scorer it corresponds to.
"""

from __future__ import annotations

from .registry import Family, Scorer, scored_by_rewards

KIND = "gsm8k"


def _scorer(name: str, **declared) -> Scorer:
    return Scorer(name, scored_by_rewards(KIND, name), **declared)


FAMILY = Family(
    kind=KIND,
    title="GSM8K",
    scorers=(
        _scorer(
            "strict",
            label="strict (#### format)",
            color="#D55E00",
            reward=True,
            method="needs the `#### <number>` format",
        ),
        _scorer(
            "flexible", label="flexible (last number)", color="#0072B2", reward=True, method="takes the last number"
        ),
        _scorer(
            "custom_flexible",
            label="custom flexible (cut at ####)",
            color="#009E73",
            reward=True,
            method="cuts the response at the first `####` and then takes the last number",
        ),
        _scorer(
            "seed_strict", label="seed's strict (verl 0.5, last 300 chars)", color="#F0A67A", reward=True, seed=True
        ),
        _scorer("seed_flexible", label="seed's flexible (verl 0.5, last 300 chars)", color="#7FB8D8", seed=True),
        _scorer(
            "seed_custom_flexible",
            label="seed's custom flexible (#### + 5 chars)",
            color="#7FCEB9",
            reward=True,
            seed=True,
        ),
    ),
    default_scorer="custom_flexible",
    instruction=True,
    hub_names=("gsm8k",),
)
