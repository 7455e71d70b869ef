"""The workflow's evaluation through Snakemake with `evaluate.backend: vllm` for real (the CPU build of vLLM), in
the environment named the way a cluster user without conda names it (RLSCALING_VLLM_PYTHON): the same checkpoints
evaluated by both backends give identical fp32 greedy records; pass@k draws n seeded samples; asking for one result
file reruns its job. Skipped, saying why, without such an interpreter (`.ci/vllm_check.sh` builds one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from test_workflow import MICRO, snakemake

pytestmark = pytest.mark.slow
VLLM_PYTHON = os.environ.get("RLSCALING_VLLM_PYTHON")
ITEMS = 16


def _has_vllm(python: str | None) -> bool:
    if not python or not Path(python).exists():
        return False
    return subprocess.run([python, "-c", "import vllm"], capture_output=True).returncode == 0


requires_vllm = pytest.mark.skipif(
    not _has_vllm(VLLM_PYTHON),
    reason="RLSCALING_VLLM_PYTHON is not set to an interpreter that imports vllm (build one with .ci/vllm_env.sh)",
)


def vllm_servable_micro_config(tmp: Path, backend: str) -> Path:
    """The micro study with one model vLLM's CPU attention serves, evaluated by ``backend`` in fp32 (its path)."""
    cfg = yaml.safe_load(MICRO.read_text())
    # vLLM's CPU attention serves head_dim 32-512: one model with 2 heads of 32
    cfg["models"] = {
        "vm": {
            "arch": {
                "hidden_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "intermediate_size": 128,
            }
        }
    }
    cfg["pretrain"].update(budgets={"b1": 2.0e4}, seq_len=96, seeds=[1])
    cfg["grpo"]["budgets"] = ["b1"]
    cfg["benchmarks"]["gsm8k"].update(n=ITEMS, max_new_tokens=24)
    cfg["evaluate"].update(backend=backend, precision="fp32")
    cfg["evaluate"]["pass_at_k"].update(n=4, k=[1, 2, 4])
    path = tmp / f"{backend}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@requires_vllm
def test_vllm_evaluation_through_snakemake_matches_transformers(tmp_path):
    ck = "results/eval/vm/seed_1/b1/base/step_0"
    files = [f"{ck}/gsm8k_0shot.summary.json", f"{ck}/gsm8k_1shot.summary.json", f"{ck}/gsm8k_0shot_passk.summary.json"]
    snakemake(tmp_path, *files, config=vllm_servable_micro_config(tmp_path, "transformers"))
    hf = {f: _records(tmp_path / f.replace(".summary.json", ".records.jsonl")) for f in files[:2]}
    saved = tmp_path / "transformers_eval"
    shutil.copytree(tmp_path / ck, saved)
    vllm_cfg = vllm_servable_micro_config(tmp_path, "vllm")
    snakemake(tmp_path, *files, config=vllm_cfg)  # the backend is a setting of the evaluate job: it reruns
    summary = json.loads((tmp_path / files[0]).read_text())
    assert summary["model_dir"].endswith("models/vm/seed_1/b1/base")
    same = total = 0
    for f, rows in hf.items():
        vl = _records(tmp_path / f.replace(".summary.json", ".records.jsonl"))
        assert [r["id"] for r in vl] == [r["id"] for r in rows]
        for a, b in zip(rows, vl):
            total += 1
            same += (a["response"], a["response_tokens"], a["score"]) == (
                b["response"],
                b["response_tokens"],
                b["score"],
            )
    print(f"fp32 greedy: vLLM == transformers on {same} of {total} records")
    assert same == total
    # pass@k: n seeded samples per item, and asking for that one file again reproduces it exactly
    passk = tmp_path / files[2].replace(".summary.json", ".records.jsonl")
    first = _records(passk)
    assert {r["sample"] for r in first} == {0, 1, 2, 3} and len(first) == 4 * ITEMS
    before = passk.stat().st_mtime_ns
    snakemake(tmp_path, "--force", files[2], config=vllm_cfg)
    assert passk.stat().st_mtime_ns > before  # the file's job ran again ...
    assert _records(passk) == first  # ... and its seeded samples came out the same
