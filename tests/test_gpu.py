"""GPU checks (marker ``gpu``): bf16 generation on CUDA with the transformers backend, GRPO through TRL in bf16 with
gradient checkpointing and the study's own reward, and the vLLM backend on a tiny model. Skipped, with the reason
printed (``-ra``), where no CUDA device is visible or vllm is not installed."""

from __future__ import annotations

import pytest
import torch

from tiny_models import make_tiny_model_dir

CUDA = torch.cuda.is_available()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not CUDA, reason="needs CUDA: torch.cuda.is_available() is False on this machine"),
]
PROMPTS = ["12+7=", "Question: 3+4?\nAnswer:", "a"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny"), seed=0)


def test_bf16_logits_track_fp32_on_cuda(tiny):
    from rlscaling.models.tiny import load_causal_lm

    fp32 = load_causal_lm(tiny, dtype=torch.float32, device="cuda")
    bf16 = load_causal_lm(tiny, dtype=torch.bfloat16, device="cuda")
    assert next(bf16.parameters()).dtype == torch.bfloat16 and next(bf16.parameters()).is_cuda
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]], device="cuda")
    with torch.no_grad():
        ref, low = fp32(ids).logits, bf16(ids).logits.float()
    assert torch.isfinite(low).all()
    assert (low - ref).abs().max().item() < 0.05 * max(1.0, ref.abs().max().item())


def test_bf16_greedy_generation_on_cuda(tiny):
    from rlscaling.models.tiny import load_causal_lm

    model = load_causal_lm(tiny, dtype=torch.bfloat16, device="cuda")
    ids = torch.tensor([[3, 4, 5]], device="cuda")
    out1 = model.generate(ids, max_new_tokens=8, do_sample=False)
    out2 = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out1.shape[1] > ids.shape[1] and torch.equal(out1, out2)


def test_transformers_backend_on_cuda_same_contract(tiny):
    from rlscaling.evaluation.transformers_backend import generate_with_stats

    outs, _ = generate_with_stats(
        tiny, PROMPTS, max_new_tokens=6, batch_size=4, num_samples=2, temperature=0.0, device="cuda"
    )
    again, _ = generate_with_stats(
        tiny, PROMPTS, max_new_tokens=6, batch_size=4, num_samples=2, temperature=0.0, device="cuda"
    )
    assert [len(o) for o in outs] == [2, 2, 2] and outs == again
    for o in outs:
        assert set(o[0]) == {"text", "prompt_tokens", "response_tokens"} and 1 <= o[0]["response_tokens"] <= 6


def test_trl_grpo_bf16_with_gradient_checkpointing_on_cuda(tiny, tmp_path):
    """The ``grpo`` rule's TRL path as the GPU study runs it: bf16 autocast, gradient checkpointing, the k3 KL and
    rewards from ``rlscaling.rewards`` (custom_flexible); checkpoints reload and differ from the base model."""
    from transformers import AutoModelForCausalLM

    from rlscaling.training.common import GRPOSettings, read_tokens_log
    from rlscaling.training.trl_backend import run_grpo

    section = {
        "backend": "trl",
        "reward_mode": "custom_flexible",
        "rollouts_per_prompt": 4,
        "prompts_per_step": 4,
        "steps": 3,
        "save_steps": [2],
        "lr": 1e-3,
        "kl_coef": 0.001,
        "kl_estimator": "k3",
        "loss_type": "grpo",
        "temperature": 1.0,
        "max_prompt_tokens": 40,
        "max_response_tokens": 12,
        "epochs": 1,
        "precision": "bf16",
        "gradient_checkpointing": True,
    }
    rows = [{"prompt": f"Question: {i % 7} + {i % 5}?\nAnswer:", "answer": str(i % 7 + i % 5)} for i in range(24)]
    run = run_grpo(tiny, rows, GRPOSettings.from_config(section, seed=7), tmp_path / "out")
    assert run["device"] == "cuda"
    assert run["grpo_config"]["bf16"] is True and run["grpo_config"]["activation_checkpointing"] is True
    assert run["grpo_config"]["beta"] == 0.001 and run["grpo_config"]["loss_type"] == "grpo"
    logged = read_tokens_log(tmp_path / "out" / "tokens.csv")
    assert [r["step"] for r in logged] == [1, 2, 3]
    assert all(r["n_sequences"] == 16 and r["completion_tokens"] >= 16 and r["kl"] is not None for r in logged)
    base = AutoModelForCausalLM.from_pretrained(tiny)
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "step_3")
    assert all(torch.isfinite(p).all() for p in trained.parameters())
    assert max((a - b).abs().max().item() for a, b in zip(trained.parameters(), base.parameters())) > 0


def test_vllm_backend_matches_contract(tiny):
    pytest.importorskip("vllm", reason="vllm is not installed in this environment (see envs/vllm.yaml)")
    from rlscaling.evaluation.vllm_backend import generate

    outs = generate(
        tiny,
        PROMPTS,
        max_new_tokens=6,
        num_samples=3,
        temperature=1.0,
        seed=1,
        gpu_memory_utilization=0.3,
        max_model_len=256,
    )
    assert [len(o) for o in outs] == [3, 3, 3]
    assert [o[0]["prompt_tokens"] for o in outs] == [len(p) for p in PROMPTS]  # character-level tokenizer
    assert all(1 <= d["response_tokens"] <= 6 for o in outs for d in o)
