"""FLOPs accounting against hand-computed values."""

import math

import numpy as np
import pytest

from rlscaling.compute import (
    GRPOPasses,
    HeadParams,
    cumulative_rl_flops,
    grpo_flops_per_token,
    grpo_step_flops,
    head_params_from_summary,
    head_share,
    pretrain_flops,
    pretrain_tokens,
    rl_flops_at,
)

# Qwen3-0.6B-Base and Qwen3-14B-Base: non-embedding N from the model cards (0.44B, 13.2B); hidden size and vocabulary
# from their config.json (1,024 / 5,120 and 151,936)
N_06B, DMODEL_06B, N_14B, DMODEL_14B, VOCAB = 0.44e9, 1024, 13.2e9, 5120, 151_936


def test_head_share_of_the_qwen3_sizes_by_hand():
    h = DMODEL_06B * VOCAB
    assert h == 1024 * 151_936 == 155_582_464
    assert head_share(N_06B, h) == pytest.approx(155_582_464 / (440_000_000 + 155_582_464))  # 0.2612
    assert round(head_share(N_06B, h), 2) == 0.26  # the 26%
    assert head_share(N_14B, DMODEL_14B * VOCAB) == pytest.approx(777_912_320 / 13_977_912_320)  # 0.0557
    assert round(head_share(N_14B, DMODEL_14B * VOCAB), 2) == 0.06  # the 6%


def test_the_head_is_counted_the_same_tied_or_untied():
    """Qwen3-0.6B (tied embeddings) and Qwen3-14B (untied), built on the meta device from their config.json values:
    N reproduces the model cards' 0.44B / 13.2B and H = d_model x V in both."""
    from transformers import Qwen3Config

    from rlscaling.models.tiny import non_embedding_params, output_head_params

    common = {"vocab_size": VOCAB, "head_dim": 128, "num_key_value_heads": 8}
    small = Qwen3Config(hidden_size=DMODEL_06B, num_hidden_layers=28, intermediate_size=3072, num_attention_heads=16,
                        tie_word_embeddings=True, **common)  # fmt: skip
    large = Qwen3Config(hidden_size=DMODEL_14B, num_hidden_layers=40, intermediate_size=17408, num_attention_heads=40,
                        tie_word_embeddings=False, **common)  # fmt: skip
    assert output_head_params(small) == DMODEL_06B * VOCAB and output_head_params(large) == DMODEL_14B * VOCAB
    assert non_embedding_params(small) == pytest.approx(N_06B, rel=0.01)
    assert non_embedding_params(large) == pytest.approx(N_14B, rel=0.01)


def test_pretrain_flops_count_the_head():
    # Qwen3-0.6B-Base, D = 36e12 tokens: 6 * (0.44e9 + 155,582,464) * 36e12 = 1.28646e23 (6*N*D alone: 9.504e22)
    h = DMODEL_06B * VOCAB
    assert pretrain_flops(N_06B, 36e12, head_params=h) == pytest.approx(6 * 595_582_464 * 36e12, rel=1e-12)
    assert pretrain_flops(N_06B, 36e12, head_params=0.0) == pytest.approx(9.504e22, rel=1e-12)
    assert pretrain_flops(1000, 0, head_params=10) == 0.0
    assert pretrain_tokens(6 * 595_582_464 * 36e12, N_06B, head_params=h) == pytest.approx(36e12)


def test_the_head_cannot_be_left_out_by_accident():
    with pytest.raises(TypeError, match="head_params"):
        pretrain_flops(1000, 10)
    with pytest.raises(TypeError, match="head_params"):
        grpo_step_flops(1000, 10, 10)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, None])
def test_pretrain_flops_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="n_params"):
        pretrain_flops(bad, 10, head_params=0)
    with pytest.raises(ValueError, match="head_params"):
        pretrain_flops(10, 10, head_params=bad)


def test_grpo_step_by_hand():
    # N = 1000 params, H = 250 head params, 100 prompt + 300 generated tokens (summed over sequences)
    f = grpo_step_flops(1000, 100, 300, GRPOPasses(ref_forward=True, old_policy_forward=False), head_params=250)
    assert f["rollout"] == 2 * 1250 * 400 == 1_000_000
    assert f["update"] == 6 * 1250 * 400 == 3_000_000
    assert f["ref"] == 1_000_000
    assert f["old_policy"] == 0
    assert f["total"] == 5_000_000


def test_grpo_passes_change_cost():
    none = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=False), head_params=0)["total"]
    both = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=True, old_policy_forward=True), head_params=0)["total"]
    two_epochs = grpo_step_flops(10, 5, 5, GRPOPasses(ref_forward=False, update_epochs=2), head_params=0)["total"]
    assert none == 8 * 10 * 10
    assert both == 12 * 10 * 10
    assert two_epochs == 14 * 10 * 10
    assert grpo_flops_per_token(GRPOPasses()) == 10.0  # 2 rollout + 6 update + 2 reference
    with pytest.raises(ValueError):
        grpo_step_flops(10, 5, 5, GRPOPasses(update_epochs=0), head_params=0)


def test_cumulative_rl_flops_uses_logged_tokens_in_step_order():
    log = [
        {"step": "2", "prompt_tokens": "10", "completion_tokens": "30"},
        {"step": "1", "prompt_tokens": "10", "completion_tokens": "10"},
    ]
    p = GRPOPasses(ref_forward=False)
    cum = cumulative_rl_flops(90, log, p, head_params=10)  # N + H = 100
    assert cum == [(1, 8 * 100 * 20), (2, 8 * 100 * 20 + 8 * 100 * 40)]
    assert rl_flops_at(90, log, 0, p, head_params=10) == 0.0
    assert rl_flops_at(90, log, 2, p, head_params=10) == 48_000
    with pytest.raises(ValueError, match="step 3"):
        rl_flops_at(90, log, 3, head_params=10)


def test_head_params_interpolate_in_log_n():
    heads = HeadParams.from_models({1e9: 2e8, 4e9: 4e8})
    assert heads.at(1e9) == pytest.approx(2e8) and heads.at(4e9) == pytest.approx(4e8)
    assert heads.at(2e9) == pytest.approx(2e8 * 2**0.5)  # halfway in log N: the geometric mean
    assert heads.at(16e9) == pytest.approx(8e8)  # the end segment's slope (H ~ N^0.5 here) continues
    assert heads.at(0.25e9) == pytest.approx(1e8)
    assert HeadParams.from_models({5e8: 3e7}).at(1e10) == pytest.approx(3e7)  # one model: its H everywhere
    with pytest.raises(ValueError, match="positive"):
        HeadParams.from_models({1e9: 0.0})


def test_passes_from_run_json_mapping():
    p = GRPOPasses.from_mapping({"ref_forward": False, "old_policy_forward": True, "update_epochs": 3})
    assert p == GRPOPasses(False, True, 3)


def test_passes_record_must_name_every_pass():
    with pytest.raises(ValueError, match=r"lacks \['old_policy_forward'\]"):
        GRPOPasses.from_mapping({"ref_forward": True, "update_epochs": 1})


def test_verl_c_rl_counts_the_old_policy_forward(tmp_path):
    """verl's run record -> 12·(N + H) FLOPs per processed token (rollout 2 + update 6 + reference 2 + old policy 2)."""
    import json

    from rlscaling.analysis.aggregate import base_compute, rl_compute
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
    n, h, d = 4.4e8, 1024 * 151_936, 3.6e13
    (base / "pretrain.json").write_text(
        json.dumps({"n_params_non_embedding": n, "head_params": h, "tokens_trained": d})
    )
    (grpo / "run.json").write_text(json.dumps({"backend": "verl", "passes": verl_passes(settings)}))
    (grpo / "tokens.csv").write_text(
        "step,prompt_tokens,completion_tokens,n_sequences,reward_mean,reward_std,kl,"
        "wall_s\n"
        "1,300000,200000,1536,0.5,0.5,0.001,10\n2,310000,250000,1536,0.6,0.5,0.002,10\n"
    )
    cfg = {"models": {"m": {}}, "pretrain": {"budgets": {"b": d}}}
    c = base_compute(cfg, "m", "b", base)
    by_hand_step1 = 12 * (n + h) * (300000 + 200000)
    by_hand_step2 = by_hand_step1 + 12 * (n + h) * (310000 + 250000)
    c_rl = rl_compute(c, grpo)
    assert c_rl == {0: 0.0, 1: pytest.approx(by_hand_step1), 2: pytest.approx(by_hand_step2)}
    assert c["c_pretrain"] == pytest.approx(6 * (n + h) * d)


def test_a_pretrain_record_without_the_head_is_completed_from_config_json(tmp_path):
    """pretrain.json written before head_params was recorded: H is counted from the model's config.json."""
    import json

    from transformers import Qwen3Config

    from rlscaling.analysis.aggregate import base_compute

    base = tmp_path / "base"
    Qwen3Config(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, head_dim=8).save_pretrained(base)  # fmt: skip
    (base / "pretrain.json").write_text(json.dumps({"n_params_non_embedding": 5000, "tokens_trained": 1e6}))
    c = base_compute({"models": {"m": {}}, "pretrain": {"budgets": {"b": 1e6}}}, "m", "b", base)
    assert (c["n_params"], c["head_params"]) == (5000, 16 * 100)
    assert c["c_pretrain"] == 6 * (5000 + 1600) * 1e6


def test_grpo_run_json_records_the_head_share(tmp_path):
    import json

    from rlscaling.training.run import record_compute

    base, out = tmp_path / "base", tmp_path / "grpo"
    base.mkdir()
    out.mkdir()
    (base / "pretrain.json").write_text(json.dumps({"n_params_non_embedding": N_06B, "head_params": 155_582_464}))
    (out / "run.json").write_text(json.dumps({"backend": "verl"}))
    run = record_compute({"backend": "verl"}, base, out)
    assert json.loads((out / "run.json").read_text()) == run
    assert run["compute"]["head_flops_share"] == pytest.approx(155_582_464 / 595_582_464)
    assert run["compute"]["n_params_non_embedding"] == N_06B


def test_head_params_are_recovered_from_summary_rows():
    import pandas as pd

    rows = pd.DataFrame(
        {
            "n_params": [N_06B, N_06B, N_14B],
            "pretrain_tokens": [1e9, 2e9, 1e9],
            "c_pretrain": [pretrain_flops(N_06B, d, head_params=155_582_464) for d in (1e9, 2e9)]
            + [pretrain_flops(N_14B, 1e9, head_params=777_912_320)],
        }
    )
    got = head_params_from_summary(rows)
    assert got == {N_06B: pytest.approx(155_582_464), N_14B: pytest.approx(777_912_320)}


def test_the_allocation_converts_flops_to_tokens_with_the_head():
    """allocate.size_curve: D = f·C / (6·(N + H(N))) with H interpolated from fits.json's joint_law.head_params."""
    from rlscaling.fit import allocate as al
    from rlscaling.fit import get_form

    params = {"E": 0.05, "A": 9.5, "alpha": 0.3, "B": 18.0, "beta": 0.35, "F": 0.6, "C_mid": 3e17, "k": 1.0}
    form = "size_tokens_ceiling"
    joint = {
        "chosen": form,
        "allocation_form": form,
        "forms": {form: {"status": "ok", "param_names": list(get_form(form).param_names), **params}},
        "fitted_range": {"c_total": [1e18, 1e20], "c_pretrain": [1e18, 5e19], "c_rl": [0.0, 5e19],
                         "n_params": [1e8, 1e10], "pretrain_tokens": [1e9, 1e11]},
    }  # fmt: skip
    sizes = np.array([1e9, 4e9])
    plain = al.size_curve(al.JointLaw.from_fits({"joint_law": joint}), 1e20, sizes=sizes)
    assert plain["pretrain_tokens"] == pytest.approx(plain["f_pretrain"] * 1e20 / (6 * sizes))  # no head recorded
    joint["head_params"] = [[1e9, 2e8], [4e9, 4e8]]
    law = al.JointLaw.from_fits({"joint_law": joint})
    curve = al.size_curve(law, 1e20, sizes=sizes)
    assert curve["pretrain_tokens"] == pytest.approx(curve["f_pretrain"] * 1e20 / (6 * (sizes + [2e8, 4e8])))
    assert law.head_params_at(2e9) == pytest.approx(2e8 * 2**0.5)
