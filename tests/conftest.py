"""Test-wide settings: single-threaded numerics (2 shared cores; oversubscribed BLAS/torch ran 5-100x slower)
and no hub access, set before numpy/torch are imported by any test module."""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


import pytest  # noqa: E402  (after the environment above)


@pytest.fixture(scope="session")
def micro_study(tmp_path_factory):
    """The micro study (tests/configs/micro.yaml) run once per test session, end to end: the workdir. Tests that
    change it restore it; tests that build on it (a sweep added on top) copy it first."""
    import time

    from test_workflow import snakemake

    wd = tmp_path_factory.mktemp("study")
    t0 = time.time()
    snakemake(wd)
    print(f"micro study: {time.time() - t0:.1f} s")
    return wd
