"""Every module of the package imports on its own, and the import contracts hold.

A module that only imports when some other module was imported first (an import cycle entered from the wrong end,
or a name another module happens to define on the way) fails here: each module is imported alone, in a fresh
interpreter. The contracts (``[tool.importlinter]`` in pyproject.toml: no cycles, the low-level modules never reach
the workflow/config layer) are checked by import-linter's ``lint-imports``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rlscaling

SRC = Path(rlscaling.__file__).resolve().parents[1]  # the source tree under test (src/)
ROOT = Path(__file__).resolve().parents[1]
OPTIONAL_BACKENDS = ("vllm", "verl")
"""GPU-only backends (the ``gpu`` / ``gpu-eval`` extras, never installed in CI): a module that cannot be imported
without one is skipped where the backend is not installed, and must import where it is."""


def _modules(path: list[str], prefix: str) -> list[str]:
    """Every module and package under ``path``, found on disk (nothing is imported here)."""
    names = []
    for info in pkgutil.iter_modules(path, prefix):
        names.append(info.name)
        if info.ispkg:
            names += _modules([os.path.join(path[0], info.name.rsplit(".", 1)[1])], info.name + ".")
    return names


MODULES = ["rlscaling", *_modules(list(rlscaling.__path__), "rlscaling.")]


def _import_alone(module: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env=env, cwd=SRC, timeout=300
    )


@functools.cache
def _results() -> dict[str, subprocess.CompletedProcess]:
    """Each module imported in its own fresh interpreter, two at a time (the CI machine has 2 cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(MODULES, pool.map(_import_alone, MODULES)))


def _missing_backend(stderr: str) -> str | None:
    """The optional backend whose absence made an import fail, if that is why it failed."""
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    for backend in OPTIONAL_BACKENDS:
        if last.startswith("ModuleNotFoundError") and (f"'{backend}'" in last or f"'{backend}." in last):
            return backend
    return None


def test_every_module_is_found():
    assert len(MODULES) > 50 and {"rlscaling.workflow.config", "rlscaling.workflow.plan", "rlscaling.fit.write"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module):
    result = _results()[module]
    if result.returncode != 0:
        backend = _missing_backend(result.stderr)
        if backend is not None and importlib.util.find_spec(backend) is None:
            pytest.skip(f"{module} needs the optional backend {backend}, not installed here")
    assert result.returncode == 0, f"`python -c 'import {module}'` in a fresh interpreter failed:\n{result.stderr}"


def test_import_contracts_hold():
    """``lint-imports`` (import-linter's console script, installed next to this interpreter by the ``test`` extra)
    passes: every contract in pyproject.toml is kept."""
    script = Path(sys.executable).with_name("lint-imports")
    assert script.is_file(), f"{script} is missing: install the test extra (pip install -e '.[test]')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        [str(script), "--no-cache", "--no-logo"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
