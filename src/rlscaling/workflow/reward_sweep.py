"""The reward-mode ablation as a sweep: the one place its two spellings become one (docs/sweeps-design.md).

A study names its GRPO reward in one of two ways:

- ``grpo.reward_mode: a`` and, for the ablation, the sweep ``grpo.sweeps: [{key: reward_mode, values: [b]}]``
  (the way to write an ablation: every GRPO setting is swept alike);
- ``grpo.reward_modes: [a, b]`` (the older spelling, kept working).

Both mean: ``a`` is the reference reward (the study's primary mode), and every cell gets one more GRPO run per
other mode. :func:`normalise_reward_modes` (called by :func:`rlscaling.workflow.config.validate_config` after the
schema, before the sweeps are checked) rewrites the first spelling into the second, so everything downstream (the
study's runs, paths ``.../<budget>/<reward>``, paired seeds, job settings, the analysis's ``reward_mode`` column)
reads ``grpo.reward_modes`` only, and a config written either way validates to the same dict: same DAG, same jobs,
same results. A reward-mode run keeps its ``{reward}`` path segment (no ``reward_mode=`` segment), so old results stay
valid. Each error is a :class:`rlscaling.study.ConfigError` naming the key and saying what to write.
"""

from __future__ import annotations

from rlscaling.study import ConfigError
from rlscaling.tasks import reward_modes as known_rewards

KEY = "reward_mode"
"""The sweep key (``grpo.sweeps[i].key``) and the ``grpo`` setting that name the reference reward."""


def normalise_reward_modes(cfg: dict) -> dict:
    """Rewrite ``grpo.reward_mode`` + its sweep into ``grpo.reward_modes`` in place (module docstring); returns
    ``cfg``. The reference reward is ``grpo.reward_mode``, else the sweep's first value; a config already written with
    ``reward_modes`` (no ``reward_mode``, no such sweep) is left exactly as it is."""
    grpo = cfg["grpo"]
    all_sweeps = list(grpo.get("sweeps") or [])
    chosen = [(i, s) for i, s in enumerate(all_sweeps) if s["key"] == KEY]
    if "reward_modes" in grpo:
        if KEY in grpo:
            raise ConfigError(
                f"grpo.reward_mode: grpo.reward_modes names the reward modes already ({grpo['reward_modes']}); write "
                f"one spelling: grpo.reward_mode: {grpo['reward_modes'][0]} (+ a sweep {{key: {KEY}, values: [...]}} "
                "for the other modes), or grpo.reward_modes alone"
            )
        if chosen:
            i, sweep = chosen[0]
            modes = list(grpo["reward_modes"])
            raise ConfigError(
                f"grpo.sweeps[{i}].key: a {KEY} sweep and grpo.reward_modes ({modes}) both name the reward modes; "
                f"write one: grpo.reward_mode: {modes[0]} with sweeps {{key: {KEY}, values: "
                f"{_merged(modes[1:], sweep['values'])}}} (and no reward_modes), or add the values to grpo.reward_modes"
            )
        return cfg
    if len(chosen) > 1:
        raise ConfigError(
            f"grpo.sweeps[{chosen[1][0]}].key: a second {KEY} sweep; write every reward mode in one "
            f"(grpo.sweeps[{chosen[0][0]}].values)"
        )
    values = []
    if chosen:
        i, sweep = chosen[0]
        values = _checked_values(sweep, f"grpo.sweeps[{i}]")
    if KEY not in grpo and not values:
        raise ConfigError(
            f"grpo.reward_mode: the GRPO reward is not set; write grpo.reward_mode: <one of {list(known_rewards())}> "
            f"(the reward-mode ablation: grpo.sweeps [{{key: {KEY}, values: [...]}}])"
        )
    reference = grpo.pop(KEY, None) or values[0]
    grpo["reward_modes"] = [reference, *(v for v in values if v != reference)]
    grpo["sweeps"] = [s for s in all_sweeps if s["key"] != KEY]
    return cfg


def _checked_values(sweep: dict, where: str) -> list[str]:
    """A reward-mode sweep's values: each a GRPO reward, none twice, and no ``models`` / ``budgets`` limit (a reward
    mode is a study dimension: every cell is trained with each) nor ``with`` settings."""
    for field in ("models", "budgets"):
        if sweep.get(field) is not None:
            raise ConfigError(
                f"{where}.{field}: a {KEY} sweep runs on every model and RL budget (each reward mode is a GRPO run "
                f"of every cell); remove {field} (grpo.budgets limits the RL budgets of the whole study)"
            )
    if sweep.get("with"):
        raise ConfigError(
            f"{where}.with: a {KEY} sweep takes no companion settings (its runs differ from the reference in the "
            "reward only); sweep the other setting on its own"
        )
    values = list(sweep["values"])
    for j, value in enumerate(values):
        if value not in known_rewards():
            raise ConfigError(
                f"{where}.values[{j}]: {value!r} is not a GRPO reward; choose from {list(known_rewards())}"
            )
        if value in values[:j]:
            raise ConfigError(f"{where}.values: {value!r} appears twice")
    return values


def _merged(first: list, second: list) -> list:
    """``first`` then the items of ``second`` it lacks (what a merged reward-mode sweep would list)."""
    return [*first, *(v for v in second if v not in first)]
