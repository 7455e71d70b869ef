"""Glue for Snakemake job scripts: per-job logs and thread limits.

Imported first by every ``workflow/scripts/*.py``; it must not import torch itself, because the thread count has
to be in the environment before torch starts its thread pools (measured here: oversubscribed torch ran 5x slower).
"""

from __future__ import annotations

import logging
import os
import sys


def setup(smk) -> logging.Logger:
    """Send the job's stdout/stderr (progress bars included) to its ``log:`` file and pin threads to ``threads:``."""
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if smk.log:
        os.makedirs(os.path.dirname(str(smk.log[0])) or ".", exist_ok=True)
        fh = open(str(smk.log[0]), "w", buffering=1, encoding="utf-8")
        sys.stdout = fh
        sys.stderr = fh
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        force=True)
    set_torch_threads(threads)
    return logging.getLogger(f"rlscaling.{smk.rule}")


def set_torch_threads(threads: int) -> None:
    """Pin torch's intra-op and inter-op pools (no-op if torch is not installed)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set by an earlier call in this process
