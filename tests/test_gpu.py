"""GPU checks (marker ``gpu``): bf16 generation on CUDA with the transformers backend, and the vLLM backend on a tiny
model. Skipped, with the reason printed (``-ra``), where no CUDA device is visible or vllm is not installed."""

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
    from rlscaling.models import load_causal_lm

    fp32 = load_causal_lm(tiny, dtype=torch.float32, device="cuda")
    bf16 = load_causal_lm(tiny, dtype=torch.bfloat16, device="cuda")
    assert next(bf16.parameters()).dtype == torch.bfloat16 and next(bf16.parameters()).is_cuda
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]], device="cuda")
    with torch.no_grad():
        ref, low = fp32(ids).logits, bf16(ids).logits.float()
    assert torch.isfinite(low).all()
    assert (low - ref).abs().max().item() < 0.05 * max(1.0, ref.abs().max().item())


def test_bf16_greedy_generation_on_cuda(tiny):
    from rlscaling.models import load_causal_lm

    model = load_causal_lm(tiny, dtype=torch.bfloat16, device="cuda")
    ids = torch.tensor([[3, 4, 5]], device="cuda")
    out1 = model.generate(ids, max_new_tokens=8, do_sample=False)
    out2 = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out1.shape[1] > ids.shape[1] and torch.equal(out1, out2)


def test_transformers_backend_on_cuda_same_contract(tiny):
    from rlscaling.evaluation.transformers_backend import generate_with_stats

    outs, _ = generate_with_stats(tiny, PROMPTS, max_new_tokens=6, batch_size=4, num_samples=2, temperature=0.0,
                                  device="cuda")
    again, _ = generate_with_stats(tiny, PROMPTS, max_new_tokens=6, batch_size=4, num_samples=2, temperature=0.0,
                                   device="cuda")
    assert [len(o) for o in outs] == [2, 2, 2] and outs == again
    for o in outs:
        assert set(o[0]) == {"text", "prompt_tokens", "response_tokens"} and 1 <= o[0]["response_tokens"] <= 6


def test_vllm_backend_matches_contract(tiny):
    pytest.importorskip("vllm", reason="vllm is not installed in this environment (see envs/vllm.yaml)")
    from rlscaling.evaluation.vllm_backend import generate

    outs = generate(tiny, PROMPTS, max_new_tokens=6, num_samples=3, temperature=1.0, seed=1,
                    gpu_memory_utilization=0.3, max_model_len=256)
    assert [len(o) for o in outs] == [3, 3, 3]
    assert [o[0]["prompt_tokens"] for o in outs] == [len(p) for p in PROMPTS]  # character-level tokenizer
    assert all(1 <= d["response_tokens"] <= 6 for o in outs for d in o)
