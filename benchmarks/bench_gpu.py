"""Benchmark (needs CUDA): measured GPU throughput of the transformers/TRL bf16 paths against the MFU assumptions
that ``rlscaling gpu-hours`` uses (``rlscaling.workflow.gpu_hours.DEFAULTS``).

For each Qwen3-Base architecture named (random weights: the hub is not reachable, and speed does not depend on the
weights), it measures
- the policy update as TRL's Trainer runs it with ``bf16=True``: fp32 master weights, bf16 autocast, gradient
  checkpointing, AdamW step, on ``batch`` sequences of ``prompt + response`` tokens;
  MFU = 6·N·tokens/s / peak;
- rollouts with ``transformers`` ``generate`` in bf16 (KV cache, greedy, every sequence forced to ``response``
  new tokens): MFU = 2·N·(prompt + response tokens)/s / peak. The study's GPU rollouts use vLLM; this is the
  transformers fallback, a lower bound.

N is the non-embedding parameter count, as everywhere in ``rlscaling.compute``. Prints one line per measurement
and the ratio measured MFU / assumed MFU. Run on a GPU machine:
    python benchmarks/bench_gpu.py [--sizes 0.6B 1.7B] [--batch 8] [--gen-batch 64]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from rlscaling.models.tiny import non_embedding_params, output_head_params
from rlscaling.workflow.gpu_hours import DEFAULTS

# Architectures of the Qwen3-Base models (Qwen3 technical report, Table 1, and the models' config.json files).
QWEN3_ARCH = {
    "0.6B": dict(
        hidden_size=1024,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        intermediate_size=3072,
        tie_word_embeddings=True,
    ),
    "1.7B": dict(
        hidden_size=2048,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        intermediate_size=6144,
        tie_word_embeddings=True,
    ),
    "4B": dict(
        hidden_size=2560,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=9728,
        tie_word_embeddings=True,
    ),
}
VOCAB = 151936
HEAD_DIM = 128


def build(size: str, dtype: torch.dtype) -> Qwen3ForCausalLM:
    cfg = Qwen3Config(vocab_size=VOCAB, head_dim=HEAD_DIM, max_position_embeddings=4096, **QWEN3_ARCH[size])
    torch.manual_seed(0)
    return Qwen3ForCausalLM(cfg).to(device="cuda", dtype=dtype)


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def bench_update(size: str, batch: int, seq: int, repeats: int) -> dict:
    torch.cuda.empty_cache()  # the previous measurement's tensors were freed when its function returned
    torch.cuda.reset_peak_memory_stats()
    model = build(size, torch.float32)
    model.gradient_checkpointing_enable()
    model.config.use_cache = False
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True)
    ids = torch.randint(0, VOCAB, (batch, seq), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    n, head = non_embedding_params(model), output_head_params(model)
    s = timed(step, repeats)
    peak_mem = torch.cuda.max_memory_allocated() / 2**30
    tok_s = batch * seq / s
    mfu = 6 * (n + head) * tok_s / DEFAULTS["peak_flops_per_s"]  # as rlscaling.compute counts: N + the output head
    return {
        "what": "update",
        "size": size,
        "n_params": n,
        "batch": batch,
        "seq": seq,
        "s_per_step": s,
        "tokens_per_s": tok_s,
        "mfu": mfu,
        "assumed_mfu": DEFAULTS["mfu_update"],
        "ratio": mfu / DEFAULTS["mfu_update"],
        "peak_mem_gib": peak_mem,
    }


@torch.no_grad()
def bench_rollout(size: str, batch: int, prompt: int, response: int, repeats: int) -> dict:
    torch.cuda.empty_cache()
    model = build(size, torch.bfloat16).eval()
    ids = torch.randint(0, VOCAB, (batch, prompt), device="cuda")
    mask = torch.ones_like(ids)

    def gen():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=response,
            min_new_tokens=response,
            do_sample=False,
            use_cache=True,
            pad_token_id=0,
            eos_token_id=None,
        )
        assert out.shape[1] == prompt + response

    n, head = non_embedding_params(model), output_head_params(model)
    s = timed(gen, repeats)
    tok_s = batch * (prompt + response) / s
    mfu = 2 * (n + head) * tok_s / DEFAULTS["peak_flops_per_s"]
    return {
        "what": "rollout (transformers generate)",
        "size": size,
        "n_params": n,
        "batch": batch,
        "seq": prompt + response,
        "s_per_step": s,
        "tokens_per_s": tok_s,
        "new_tokens_per_s": batch * response / s,
        "mfu": mfu,
        "assumed_mfu": DEFAULTS["mfu_rollout"],
        "ratio": mfu / DEFAULTS["mfu_rollout"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["0.6B", "1.7B"], choices=sorted(QWEN3_ARCH))
    ap.add_argument("--batch", type=int, default=8, help="sequences per update step")
    ap.add_argument("--gen-batch", type=int, default=64, help="sequences generated together")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--response", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu needs CUDA: torch.cuda.is_available() is False on this machine")
    print(
        f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}  "
        f"peak assumed {DEFAULTS['peak_flops_per_s']:.3g} FLOP/s ({DEFAULTS['gpu']})"
    )
    rows = []
    for size in args.sizes:
        for row in (
            bench_update(size, args.batch, args.prompt + args.response, args.repeats),
            bench_rollout(size, args.gen_batch, args.prompt, args.response, args.repeats),
        ):
            rows.append(row)
            print(
                f"{row['size']:>5} N={row['n_params'] / 1e9:.3f}B {row['what']:<31} batch {row['batch']:>3} x "
                f"{row['seq']} tok: {row['s_per_step']:7.3f} s  {row['tokens_per_s']:10,.0f} tok/s  "
                f"MFU {row['mfu']:.3f}  assumed {row['assumed_mfu']:.2f}  ratio {row['ratio']:.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
