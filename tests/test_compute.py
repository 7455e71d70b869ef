"""FLOPs accounting against hand-computed values."""

import math

import pytest

from rlscaling.compute import (
    GRPOPasses,
    cumulative_rl_flops,
    grpo_flops_per_token,
    grpo_step_flops,
    pretrain_flops,
    rl_flops_at,
)


def test_pretrain_flops_is_6nd():
    # Qwen3-0.6B-Base: N = 0.44e9 non-embedding params, D = 36e12 tokens -> 6 * 0.44e9 * 36e12 = 9.504e22
    assert pretrain_flops(0.44e9, 36e12) == pytest.approx(9.504e22, rel=1e-12)
    assert pretrain_flops(1000, 0) == 0.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, None])
def test_pretrain_flops_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="n_params"):
        pretrain_flops(bad, 10)


def test_grpo_step_by_hand():
    # N = 1000 params, 100 prompt + 300 generated tokens (summed over sequences)
    f = grpo_step_flops(1000, 100, 300, GRPOPasses(ref_forward=True, old_policy_forward=False))
    assert f["rollout"] == 2 * 1000 * 400 == 800_000
    assert f["update"] == 6 * 1000 * 400 == 2_400_000
    assert f["ref"] == 800_000
    assert f["old_policy"] == 0
    assert f["total"] == 4_000_000


def test_grpo_passes_change_cost():
    none = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=False))["total"]
    both = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=True, old_policy_forward=True))["total"]
    two_epochs = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=False, update_epochs=2))["total"]
    assert none == 8 * 10 * 10
    assert both == 12 * 10 * 10
    assert two_epochs == 14 * 10 * 10
    assert grpo_flops_per_token(GRPOPasses()) == 10.0  # 2 rollout + 6 update + 2 reference
    with pytest.raises(ValueError):
        grpo_step_flops(10, 5, 5, GRPOPasses(update_epochs=0))


def test_cumulative_rl_flops_uses_logged_tokens_in_step_order():
    log = [
        {"step": "2", "prompt_tokens": "10", "completion_tokens": "30"},
        {"step": "1", "prompt_tokens": "10", "completion_tokens": "10"},
    ]
    cum = cumulative_rl_flops(100, log, GRPOPasses(ref_forward=False))
    assert cum == [(1, 8 * 100 * 20), (2, 8 * 100 * 20 + 8 * 100 * 40)]
    assert rl_flops_at(100, log, 0, GRPOPasses(ref_forward=False)) == 0.0
    assert rl_flops_at(100, log, 2, GRPOPasses(ref_forward=False)) == 48_000
    with pytest.raises(ValueError, match="step 3"):
        rl_flops_at(100, log, 3)


def test_passes_from_run_json_mapping():
    p = GRPOPasses.from_mapping({"ref_forward": False, "old_policy_forward": True, "update_epochs": 3})
    assert p == GRPOPasses(False, True, 3)


def test_passes_record_must_name_every_pass():
    with pytest.raises(ValueError, match=r"lacks \['old_policy_forward'\]"):
        GRPOPasses.from_mapping({"ref_forward": True, "update_epochs": 1})


def test_verl_c_rl_counts_the_old_policy_forward(tmp_path):
    """verl's run record -> 12·N FLOPs per processed token (rollout 2 + update 6 + reference 2 + old policy 2)."""
    import json

    from rlscaling.aggregate import base_compute, rl_compute
    from rlscaling.training.common import GRPOSettings
    from rlscaling.training.verl_backend import verl_passes

    settings = GRPOSettings.from_config(
        {
            "backend": "verl",
            "reward_mode": "custom_flexible",
            "rollouts_per_prompt": 3,
            "prompts_per_step": 512,
            "steps": 2,
            "lr": 1e-6,
            "kl_coef": 0.001,
            "kl_estimator": "low_var_kl",
        },
        seed=0,
    )
    base, grpo = tmp_path / "base", tmp_path / "grpo"
    base.mkdir()
    grpo.mkdir()
    n, d = 4.4e8, 3.6e13
    (base / "pretrain.json").write_text(json.dumps({"n_params_non_embedding": n, "tokens_trained": d}))
    (grpo / "run.json").write_text(json.dumps({"backend": "verl", "passes": verl_passes(settings)}))
    (grpo / "tokens.csv").write_text(
        "step,prompt_tokens,completion_tokens,n_sequences,reward_mean,reward_std,kl,"
        "wall_s\n"
        "1,300000,200000,1536,0.5,0.5,0.001,10\n2,310000,250000,1536,0.6,0.5,0.002,10\n"
    )
    cfg = {"models": {"m": {}}, "pretrain": {"budgets": {"b": d}}}
    c = base_compute(cfg, "m", "b", base)
    by_hand_step1 = 12 * n * (300000 + 200000)
    by_hand_step2 = by_hand_step1 + 12 * n * (310000 + 250000)
    c_rl = rl_compute(c["n_params"], grpo)
    assert c_rl == {0: 0.0, 1: pytest.approx(by_hand_step1), 2: pytest.approx(by_hand_step2)}
    assert c["c_pretrain"] == pytest.approx(6 * n * d)
