"""How a workflow job starts: thread limits, logging, and the command line of the backend-bound jobs.

Two entry points, one per kind of rule:

- ``setup(snakemake)``: imported first by every ``workflow/scripts/*.py`` (rules that run in the main environment).
- ``python -m rlscaling.workflow.jobs <rule> --settings JSON --threads N key=path ...``: the ``grpo``, ``evaluate_*``
  and
  ``val_loss`` rules, run by the interpreter of their backend's environment (``environments.<backend>``), which may
  lack Snakemake, jsonschema and pydantic: the settings arrive resolved
  (``rlscaling.workflow.job_settings.job_config``), nothing
  here loads or validates a config. A job whose interpreter cannot import its backend fails at once, naming the
  setting that chooses the interpreter.

Neither imports torch at module level: the thread count must be in the environment before torch starts its pools
(measured here: oversubscribed torch ran 5x slower).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class BackendMissingError(RuntimeError):
    """The job's interpreter cannot import its backend; the message names the setting to change."""


def pin_threads(threads: int) -> None:
    """Export the thread count for OpenMP/BLAS and pin torch's pools (if torch is installed)."""
    threads = max(1, int(threads or 1))
    for var in THREAD_VARIABLES:
        os.environ[var] = str(threads)
    try:
        import torch
    except ImportError:  # pragma: no cover - every job environment has torch
        return
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set by an earlier call in this process


def setup(smk) -> logging.Logger:
    """Send a script job's stdout/stderr (progress bars included) to its ``log:`` file and pin its threads."""
    if smk.log:
        os.makedirs(os.path.dirname(str(smk.log[0])) or ".", exist_ok=True)
        fh = open(str(smk.log[0]), "w", buffering=1, encoding="utf-8")
        sys.stdout = fh
        sys.stderr = fh
    _log_to_stderr()
    pin_threads(getattr(smk, "threads", 1))
    return logging.getLogger(f"rlscaling.{smk.rule}")


def script_settings(smk) -> dict:
    """The job's resolved settings (``params.settings``, JSON)."""
    return json.loads(smk.params.settings)


def _log_to_stderr() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )


# ------------------------------------------------------------------------------------------ backend jobs


def require_backend(backend: str) -> None:
    """Fail at once when this interpreter cannot import ``backend`` (verl, vllm, trl or transformers)."""
    if importlib.util.find_spec(backend.split(".")[0]) is None:
        raise BackendMissingError(
            f"this job needs '{backend}', which {sys.executable} cannot import. Point "
            f"environments.{backend}.python (or RLSCALING_{backend.upper()}_PYTHON) at the python of an environment "
            f"that has it (see docs/cluster.md), or run with --software-deployment-method conda"
        )


def run_grpo(settings: dict, paths: dict, threads: int) -> dict:
    from rlscaling.training.run import record_compute, run_grpo_job

    require_backend(settings["grpo"]["backend"])
    model = next(iter(settings["models"]))
    if settings["grpo"]["backend"] == "verl":
        from rlscaling.training.verl_backend import needs_flash_attn, verl_knobs

        if needs_flash_attn(verl_knobs(settings, model)) and importlib.util.find_spec("flash_attn") is None:
            raise BackendMissingError(
                f"grpo.verl.use_remove_padding / grpo.verl.attn_implementation=flash_attention_2 need flash-attn, "
                f"which {sys.executable} cannot import: install it (envs/verl-flash-attn.sh, docs/cluster.md) or set "
                "grpo.verl.attn_implementation: sdpa and grpo.verl.use_remove_padding: false"
            )
    run = run_grpo_job(
        settings,
        model,
        model_dir=paths["model"],
        train_path=paths["train"],
        out_dir=paths["out"],
        state_dir=paths["state"],
        threads=threads,
    )
    return record_compute(run, paths["model"], paths["out"])


def run_evaluate(settings: dict, paths: dict, threads: int) -> dict:
    from rlscaling.evaluation.run import evaluate_checkpoint
    from rlscaling.workflow.plan import parse_checkpoint_id

    require_backend(settings["evaluate"]["backend"])
    step = parse_checkpoint_id(paths["checkpoint"]).step
    return evaluate_checkpoint(
        settings, model_dir=paths["model"], step=step, data_dir=paths["data"], out_dir=paths["out"], threads=threads
    )


def run_val_loss(settings: dict, paths: dict, threads: int) -> dict:
    from rlscaling.evaluation.run import val_loss_job

    require_backend("transformers")
    return val_loss_job(
        settings,
        model_dir=paths["model"],
        step=int(paths["step"]),
        texts_path=paths["texts"],
        out_path=paths["out"],
        threads=threads,
    )


JOBS = {"grpo": run_grpo, "evaluate": run_evaluate, "val_loss": run_val_loss}


def _key_paths(items: list[str]) -> dict[str, str | list[str]]:
    """``key=path`` pairs -> ``{key: path}``; bare paths after a pair add to its key, which then holds a list (a
    Snakemake input list, ``train={input.train:q}``, is formatted as ``train='a' 'b'``)."""
    out: dict[str, str | list[str]] = {}
    key = None
    for item in items:
        name, sep, value = item.partition("=")
        if sep and name and "/" not in name:
            key, out[name] = name, value
        elif key is not None:
            previous = out[key]
            out[key] = [*(previous if isinstance(previous, list) else [previous]), item]
        else:
            raise SystemExit(f"rlscaling.workflow.jobs: expected key=path, got {item!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlscaling.workflow.jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("--settings", required=True, help="the job's resolved settings (JSON)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("paths", nargs="*", help="key=path pairs: inputs and outputs of the job")
    args = parser.parse_intermixed_args(argv)
    pin_threads(args.threads)
    _log_to_stderr()
    log = logging.getLogger(f"rlscaling.workflow.jobs.{args.job}")
    log.info("%s job on %s (python %s), %d thread(s)", args.job, os.uname().nodename, sys.executable, args.threads)
    t0 = time.time()
    try:
        result = JOBS[args.job](json.loads(args.settings), _key_paths(args.paths), args.threads)
    except BackendMissingError as exc:
        log.error("%s", exc)
        print(f"rlscaling.workflow.jobs: {exc}", file=sys.stderr)
        return 2
    log.info("%s job done in %.1f s: %s", args.job, time.time() - t0, json.dumps(result, default=str))
    return 0


if __name__ == "__main__":  # guard: vLLM's CPU engine starts worker processes with spawn, which re-imports __main__
    sys.exit(main())
