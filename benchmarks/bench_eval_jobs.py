"""One evaluation job per checkpoint vs one per file, for each generation backend, on a small embedded-size model.

    RLSCALING_VLLM_PYTHON=.venv-vllm/bin/python python benchmarks/bench_eval_jobs.py [--workdir DIR]

Builds (with Snakemake) one pre-trained model whose head_dim vLLM's CPU attention serves, then runs the evaluate
job of its base model (`python -m rlscaling.workflow.jobs evaluate`, the endpoint plan: every shot count and pass@k)
once for
the whole plan and once per file, as a job per file did before, with the transformers backend and, when
RLSCALING_VLLM_PYTHON names an interpreter with vLLM, with vLLM. Prints wall seconds per job, the vLLM import and
engine start, generation seconds and generated tokens/s, and the ratio per-file / per-checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from rlscaling.workflow import config as rc  # noqa: E402
from rlscaling.workflow import job_settings as rj  # noqa: E402
from test_vllm_workflow import vllm_servable_micro_config  # noqa: E402

from test_workflow import snakemake_command  # noqa: E402


def study_config(workdir: Path, backend: str) -> dict:
    """The vLLM-servable micro study of tests/test_vllm_workflow.py, evaluated by ``backend``."""
    return rc.load_config(vllm_servable_micro_config(workdir, backend))


def run_job(python: str, settings: dict, workdir: Path, out: str) -> dict:
    """One `rlscaling.workflow.jobs evaluate` process; returns its wall time and the result it logged."""
    cmd = [
        python,
        "-m",
        "rlscaling.workflow.jobs",
        "evaluate",
        "--settings",
        json.dumps(settings),
        "--threads",
        "1",
        "model=results/models/vm/seed_1/b1/base",
        "data=results/data",
        "checkpoint=vm/seed_1/b1/base/step_0",
        f"out={out}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    line = next(x for x in proc.stderr.splitlines() if "evaluate job done" in x)
    result = json.loads(line.split(" s: ", 1)[1])
    return {"wall_s": wall, "result": result}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_eval_"))
    study_config(workdir, "transformers")  # writes transformers.yaml for the Snakemake run below
    targets = ["results/models/vm/seed_1/b1/base", "results/data/eval_gsm8k.jsonl", "results/data/fewshot_gsm8k.jsonl"]
    cmd = snakemake_command(workdir, workdir / "transformers.yaml", "-c2", *targets, "--quiet", "rules")
    subprocess.run(cmd, check=True)
    backends = {"transformers": sys.executable}
    vllm_python = os.environ.get("RLSCALING_VLLM_PYTHON")
    if vllm_python:
        backends["vllm"] = vllm_python
    print(f"{'backend':<13}{'layout':<16}{'jobs':>5}{'wall s':>9}{'import+start s':>16}{'generate s':>12}{'tok/s':>9}")
    for backend, python in backends.items():
        settings = rj.job_config(study_config(workdir, backend), "evaluate_endpoint")
        plan = settings["plan"]
        whole = run_job(python, settings, workdir, f"out/{backend}/checkpoint")
        per_file = [
            run_job(python, {**settings, "plan": [item]}, workdir, f"out/{backend}/file{i}")
            for i, item in enumerate(plan)
        ]
        for layout, runs in (("per checkpoint", [whole]), ("per file", per_file)):
            wall = sum(r["wall_s"] for r in runs)
            start = sum(
                r["result"].get("engine", {}).get("import_s", 0)
                + r["result"].get("engine", {}).get("engine_start_s", 0)
                for r in runs
            )
            gen = sum(
                v["generate_s"]
                for r in runs
                for k, v in r["result"].items()
                if isinstance(v, dict) and "generate_s" in v
            )
            tokens = sum(
                v["generated_tokens"]
                for r in runs
                for k, v in r["result"].items()
                if isinstance(v, dict) and "generated_tokens" in v
            )
            print(
                f"{backend:<13}{layout:<16}{len(runs):>5}{wall:>9.1f}{start:>16.1f}{gen:>12.2f}"
                f"{tokens / max(gen, 1e-9):>9.0f}"
            )
        ratio = sum(r["wall_s"] for r in per_file) / whole["wall_s"]
        print(f"{backend}: one job per file / one per checkpoint = {ratio:.2f}x wall ({len(plan)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
