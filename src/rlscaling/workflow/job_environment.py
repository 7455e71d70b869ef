"""The environment the Snakefile exports for the jobs it starts; each backend's interpreter and conda env file.

Every Snakemake process that parses the Snakefile (the main one, and on a cluster each job's own ``snakemake``
process) computes them from the config and sets them itself, so they are not Snakemake ``envvars:``: that directive
asserts variables the *user* must define before running and forwards them to remote jobs, and a path such as
``PYTHONPATH`` would be wrong on another machine anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rlscaling.config_schema import _schema


def backend_of(cfg: dict, rule: str) -> str:
    """The backend whose environment runs ``rule``'s jobs."""
    if rule == "grpo":
        return cfg["grpo"]["backend"]
    if rule in ("evaluate_endpoint", "evaluate_intermediate"):
        return cfg["evaluate"]["backend"]
    return "transformers"


def backend_python(cfg: dict, backend: str, conda: bool, default: str) -> str:
    """Interpreter of a backend's jobs: ``python`` inside its conda env; else ``environments.<backend>.python``,
    else ``$RLSCALING_<BACKEND>_PYTHON``, else ``default`` (the interpreter running Snakemake)."""
    if conda:
        return "python"
    configured = cfg["environments"][backend]["python"]
    return configured or os.environ.get(f"RLSCALING_{backend.upper()}_PYTHON") or default


def python_setting_name(backend: str) -> str:
    """How a user names a backend's interpreter (for error messages)."""
    return f"environments.{backend}.python (or RLSCALING_{backend.upper()}_PYTHON)"


def conda_env_file(cfg: dict, backend: str) -> str:
    """Path (relative to the repository root) of a backend's conda environment file (default: the schema's)."""
    default = _schema()["properties"]["environments"]["properties"][backend]["default"]["conda"]
    return cfg["environments"][backend].get("conda") or default


JOB_PYTHON = {"GRPO": "grpo", "EVALUATE": "evaluate_endpoint", "VAL_LOSS": "val_loss"}
"""``$RLSCALING_JOB_PYTHON_<NAME>``, the interpreter in the shell command of each backend-bound rule."""


def job_environment(cfg: dict, src: str, conda: bool, python: str, environ: Mapping[str, str] = os.environ) -> dict:
    """Variables to export before any job starts (``environ``: the current environment).

    - ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` = 1 with ``offline: true`` (set before any job's Python starts:
      set inside Python after import, each hub lookup still retries);
    - ``TOKENIZERS_PARALLELISM`` = false unless set;
    - ``PYTHONPATH`` with ``src`` first, so jobs run by a backend's interpreter import rlscaling from the repository;
    - ``RLSCALING_JOB_PYTHON_{GRPO,EVALUATE,VAL_LOSS}``: the interpreter of each backend-bound rule
      (:func:`backend_python`; ``conda``: the rule runs in its conda env, ``python``: the
      interpreter running Snakemake). It chooses where a job runs, not what it computes, so it is no ``params:``
      (changing it reruns nothing)."""
    env = {}
    if cfg["offline"]:
        env["HF_HUB_OFFLINE"] = env["HF_DATASETS_OFFLINE"] = "1"
    if "TOKENIZERS_PARALLELISM" not in environ:
        env["TOKENIZERS_PARALLELISM"] = "false"
    rest = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    env["PYTHONPATH"] = os.pathsep.join([src, *rest])
    for name, rule in JOB_PYTHON.items():
        env[f"RLSCALING_JOB_PYTHON_{name}"] = backend_python(cfg, backend_of(cfg, rule), conda, python)
    return env
