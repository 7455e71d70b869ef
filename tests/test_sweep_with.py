"""A sweep's companion settings (``grpo.sweeps[i].with``): every value of the sweep also takes them, the reference
runs never do, and they are validated like any GRPO setting (docs/sweeps-design.md)."""

from __future__ import annotations

import pytest

from rlscaling import study as rs
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj
from test_sweeps import MICRO, micro

LONGER = {"key": "steps", "values": [17, 24], "models": ["micro-a"], "with": {"epochs": 2}}
"""A longer-RL sweep of the micro study: 17 and 24 steps need 2 passes over its 32 prompts (its own bound is 1)."""


def test_a_longer_rl_sweep_takes_its_epochs_bound_and_the_reference_keeps_its_own():
    plain, swept = micro(), micro(LONGER)
    for run in rs.rl_runs(swept):
        got = rj.job_config(swept, "grpo", **run._asdict())["grpo"]
        if run.variant == rs.REFERENCE:
            assert got == rj.job_config(plain, "grpo", **run._asdict())["grpo"]  # nothing reruns
            assert got["epochs"] == plain["grpo"].get("epochs", 1)
        else:
            assert got["epochs"] == 2 and got["steps"] == {"steps=17/": 17, "steps=24/": 24}[run.variant]
    assert {r.variant for r in rs.rl_runs(swept)} == {rs.REFERENCE, "steps=17/", "steps=24/"}
    assert rs.variants(swept, "micro-a", "b2")[1].also == {"epochs": 2}


def test_without_its_epochs_bound_the_longer_sweep_is_refused():
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[0\].values: steps=17 .*needs 2 passes over 32 prompts"):
        micro({k: v for k, v in LONGER.items() if k != "with"})


@pytest.mark.parametrize(
    ("also", "message"),
    [
        ({"steps": 30}, r"grpo.sweeps\[0\].with.steps: not a companion setting of a 'steps' sweep"),
        ({"train": "math"}, r"grpo.sweeps\[0\].with.train: not a companion setting"),
        ({"epoch": 2}, r"grpo.sweeps\[0\].with.epoch: not a companion setting"),
        ({"epochs": 0}, r"grpo.sweeps\[0\].with.epochs: 0 is not a valid grpo.epochs"),
    ],
)
def test_a_bad_companion_setting_is_a_config_error_naming_it(also, message):
    with pytest.raises(rs.ConfigError, match=message):
        micro({**LONGER, "with": also})


def test_one_variant_from_two_sweeps_needs_one_set_of_companions():
    other = {"key": "steps", "values": [17], "models": ["micro-b"], "with": {"epochs": 3}}
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[1\].with: steps=17 is also a value of grpo.sweeps\[0\]"):
        micro(LONGER, other)


def test_a_reward_mode_sweep_takes_no_companions():
    cfg = rc.load_config(MICRO, validate=False)
    cfg["grpo"]["reward_mode"] = cfg["grpo"].pop("reward_modes")[0]
    cfg["grpo"]["sweeps"] = [{"key": "reward_mode", "values": ["strict"], "with": {"kl_coef": 0.1}}]
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[0\].with: a reward_mode sweep takes no companion"):
        rc.validate_config(cfg)
