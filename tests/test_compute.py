"""FLOPs accounting against hand-computed values."""

import math

import pytest

from rlscaling.compute import (GRPOPasses, cumulative_rl_flops, grpo_flops_per_token, grpo_step_flops,
                               pretrain_flops, rl_flops_at)


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
    log = [{"step": "2", "prompt_tokens": "10", "completion_tokens": "30"},
           {"step": "1", "prompt_tokens": "10", "completion_tokens": "10"}]
    cum = cumulative_rl_flops(100, log, GRPOPasses(ref_forward=False))
    assert cum == [(1, 8 * 100 * 20), (2, 8 * 100 * 20 + 8 * 100 * 40)]
    assert rl_flops_at(100, log, 0, GRPOPasses(ref_forward=False)) == 0.0
    assert rl_flops_at(100, log, 2, GRPOPasses(ref_forward=False)) == 48_000
    with pytest.raises(ValueError, match="step 3"):
        rl_flops_at(100, log, 3)


def test_passes_from_run_json_mapping():
    p = GRPOPasses.from_mapping({"ref_forward": False, "old_policy_forward": True, "update_epochs": 3})
    assert p == GRPOPasses(False, True, 3)
