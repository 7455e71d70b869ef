"""A non-editable install validates configs and fits: a wheel of the working tree in a fresh venv, no checkout.

The wheel is built offline from a copy of the tree (pyproject.toml, README.md, src/ and workflow/schemas/, the
packaged schema's symlink kept as a symlink) and installed with pip into a new ``python -m venv`` whose only other
site directory is this interpreter's site-packages, listed in a ``.pth`` file: a directory named there is put on
``sys.path`` but its own ``.pth`` files are not read, so the editable install's hook (``__editable__*.pth``, which
would import the checkout's ``src/``) stays out, and ``PYTHONPATH`` is removed. Every command runs the venv's
``rlscaling`` console script from a directory outside the repository. About 25 s on 2 busy cores (most of it the
fit).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from fit_synthetic import synthetic_study

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return {**env, "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _run(cmd, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding a non-editable install of this tree's wheel; returns its ``bin/`` directory."""
    base = tmp_path_factory.mktemp("install")
    tree = base / "tree"  # a copy, so the build's build/ and *.egg-info land outside the checkout
    for name in ("pyproject.toml", "README.md"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", tree / "src", symlinks=True, ignore=skip)
    shutil.copytree(ROOT / "workflow" / "schemas", tree / "workflow" / "schemas")
    assert (tree / "src" / "rlscaling" / "config.schema.yaml").is_symlink()  # the packaged name, in the source tree

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", base / "wheels", tree], cwd=base)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "wheels").glob("rlscaling-*.whl")

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base)
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))  # this venv's dependencies
    Path(site.stdout.strip(), "dependencies.pth").write_text("".join(f"{d}\n" for d in deps))
    done = _run([*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], cwd=base)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def test_the_installed_copy_is_imported_with_its_schema_and_no_checkout(installed, tmp_path):
    probe = (
        "import rlscaling, rlscaling.config_schema as s; "
        "print(rlscaling.__file__); print(s.ROOT); print(s.SCHEMA.is_file() and not Path(str(s.SCHEMA)).is_symlink())"
    )
    out = _run([installed / "python", "-c", f"from pathlib import Path; {probe}"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    module, root, schema_is_a_file = out.stdout.split("\n")[:3]
    assert Path(module).is_relative_to(installed.parent), module  # not the checkout's src/ (editable install)
    assert root == "None"  # no workflow directory: an installed package
    assert schema_is_a_file == "True"  # the wheel holds the schema's content, not the source tree's symlink
    copied = Path(module).with_name("config.schema.yaml")
    assert copied.read_bytes() == SCHEMA.read_bytes()


def test_installed_cli_validates_configs_and_names_the_bad_key(installed, tmp_path):
    for config in (ROOT / "config.yaml", ROOT / "configs" / "qwen3.yaml"):
        ok = _run([installed / "rlscaling", "validate", "--config", config], cwd=tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"{config}: valid (models ")

    text = (ROOT / "config.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\nseed: not-a-number\n")  # a YAML mapping's last duplicate key wins
    out = _run([installed / "rlscaling", "validate", "--config", bad], cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == "rlscaling validate: error: seed: 'not-a-number' is not of type 'integer'"

    relative = tmp_path / "relative.yaml"
    relative.write_text(text + "\nreport: {published_results: seed_results.csv}\n")
    out = _run([installed / "rlscaling", "validate", "--config", relative], cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "report.published_results: 'seed_results.csv' is relative" in out.stderr
    assert "give an absolute path" in out.stderr

    hours = _run([installed / "rlscaling", "gpu-hours", "--config", ROOT / "configs" / "qwen3.yaml"], cwd=tmp_path)
    assert hours.returncode == 0, hours.stderr
    assert "qwen3-14b" in hours.stdout and "evaluation engine starts" in hours.stdout


def test_installed_cli_fits_a_summary(installed, tmp_path):
    sizes, tokens, steps, tps = (1e5, 3e5, 1e6), (2e5, 6e5), (0, 2, 5, 10, 20), 2e4
    g_pre = np.exp(np.mean([np.log(6 * n * d) for n in sizes for d in tokens]))
    g_rl = np.exp(np.mean([np.log(6 * n * tps * s) for n in sizes for s in steps if s]))
    law = {"E": 0.1, "A": 0.15 * g_pre**0.25, "alpha": 0.25, "B": 0.4 * (g_rl / 10) ** 0.48, "beta": 0.48}
    law["C0"] = g_rl / 10
    summary, _ = synthetic_study(
        law, n_params=sizes, pretrain_tokens=tokens, rl_steps=steps, rl_tokens_per_step=tps, n_items=200, seed=3
    )
    summary.to_csv(tmp_path / "summary.csv", index=False)
    cmd = ["fit", "--summary", "summary.csv", "--out", "fits", "--bootstrap", "10", "--config", ROOT / "config.yaml"]
    out = _run([installed / "rlscaling", *cmd], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    wrote = {Path(line.removeprefix("wrote ")).name for line in out.stdout.splitlines()}
    assert {"fits.json", "allocation.csv", "iso_flop.csv"} <= wrote
    assert (tmp_path / "fits" / "fits.json").stat().st_size > 0


def test_relative_published_results_needs_a_checkout(monkeypatch, tmp_path):
    """In the checkout a relative path is read from the workflow directory; installed (``ROOT`` None) it is an error
    naming the key, and an absolute path is kept as it is."""
    from rlscaling import study
    from rlscaling.study import ConfigError

    cfg = {"report": {"published_results": "seed_results.csv"}}
    assert study.published_results_path(cfg) == str(ROOT / "seed_results.csv")
    monkeypatch.setattr(study, "ROOT", None)
    with pytest.raises(ConfigError, match=r"^report\.published_results: 'seed_results\.csv' is relative"):
        study.published_results_path(cfg)
    absolute = tmp_path / "seed_results.csv"
    assert study.published_results_path({"report": {"published_results": str(absolute)}}) == str(absolute)
