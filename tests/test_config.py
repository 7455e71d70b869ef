"""Config validation: a wrong key or type stops the run with the key named."""

import copy
from pathlib import Path

import pytest
import yaml

from rlscaling import config as rc

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [ROOT / "config.yaml", ROOT / "tests" / "configs" / "micro.yaml"] + sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def base():
    return rc.load_config(ROOT / "config.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    rc.load_config(path)


def _err(cfg):
    with pytest.raises(Exception) as exc:
        rc.validate_config(cfg)
    return str(exc.value) + repr(getattr(exc.value, "args", ""))


def test_unknown_key_is_named(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["klcoef"] = 0.1
    assert "klcoef" in _err(cfg)


def test_wrong_type_is_named(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["rollouts_per_prompt"] = "four"
    msg = _err(cfg)
    assert "rollouts_per_prompt" in msg and "four" in msg


def test_yaml_float_without_exponent_sign_is_caught():
    # PyYAML reads 2.0e5 as a string: the schema must reject it rather than let a job crash later
    cfg = yaml.safe_load("a: 2.0e5")
    assert cfg["a"] == "2.0e5"


def test_cross_key_errors(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["save_steps"] = [cfg["grpo"]["steps"] + 1]
    assert "save_steps" in _err(cfg)
    cfg = copy.deepcopy(base)
    cfg["evaluate"]["pass_at_k"]["k"] = [cfg["evaluate"]["pass_at_k"]["n"] + 1]
    assert "pass_at_k.k" in _err(cfg)
    cfg = copy.deepcopy(base)
    cfg["benchmarks"]["gsm8k"]["scorers"] = ["math_verify"]
    assert "benchmarks.gsm8k.scorers" in _err(cfg)


def test_checkpoints_and_jobs_follow_config(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["save_steps"] = [4, 2, 4]
    cfg["grpo"]["steps"] = 5
    assert rc.checkpoint_steps(cfg, next(iter(cfg["models"]))) == [2, 4, 5]  # the last step is always saved
    del cfg["grpo"]["save_steps"]
    cfg["grpo"]["save_every"] = 2
    assert rc.checkpoint_steps(cfg, next(iter(cfg["models"]))) == [2, 4, 5]
    g = cfg["benchmarks"]["gsm8k"]
    n_cells = sum(len(rc.budgets(cfg, m)) for m in cfg["models"])
    per_cell = 2 * len(g["shots"]) + 2 * len(g["shots_intermediate"])  # base+final: all shots; 2 and 4: intermediate
    assert len(rc.eval_jobs(cfg)) == n_cells * per_cell
