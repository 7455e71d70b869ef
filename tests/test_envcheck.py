"""The environment-file check (.ci/envs_check.sh): parsing, failure reports, and a real pip resolution."""

import json
import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from rlscaling.workflow import envcheck

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


def write_env(path, pip_lines, python="python=3.11"):
    deps = [f"  - {python}"] if python else []
    deps += ["  - pip", "  - pip:"] + [f"      - {line}" for line in pip_lines]
    path.write_text("name: t\nchannels: [conda-forge]\ndependencies:\n" + "\n".join(deps) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_shipped_env_files_parse(path):
    spec = envcheck.read_env_file(path)
    assert spec.python == "3.11"  # the project's Python (pyproject: >=3.11,<3.12)
    assert spec.pip and all(isinstance(r, str) and "#" not in r for r in spec.pip)
    assert spec.conda_other == ()


def test_malformed_env_files_are_named(tmp_path):
    no_python = write_env(tmp_path / "nopy.yaml", ["six"], python=None)
    with pytest.raises(envcheck.EnvFileError, match=r"nopy\.yaml: dependencies name no Python version"):
        envcheck.read_env_file(no_python)
    no_pip = tmp_path / "nopip.yaml"
    no_pip.write_text("dependencies:\n  - python=3.11\n  - numpy\n", encoding="utf-8")
    with pytest.raises(envcheck.EnvFileError, match=r"nopip\.yaml: dependencies hold no `pip:` list"):
        envcheck.read_env_file(no_pip)


def fake_python(tmp_path, body):
    """An executable standing in for a venv's python: `python -m pip install ... --report R -r REQ` runs ``body``."""
    exe = tmp_path / "python"
    exe.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body), encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


CONFLICT = """\
Collecting vllm==0.33.0
ERROR: Cannot install -r REQ (line 1), -r REQ (line 2) and vllm because these package versions have conflicting \
dependencies.

The conflict is caused by:
    The user requested numpy==2.4.6
    mistral-common 1.13.1 depends on numpy<2.4 and >=1.25; python_version <= "3.12"
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/
"""


def test_a_conflict_fails_naming_the_env_file_and_pip_s_message(tmp_path):
    env = write_env(tmp_path / "vllm.yaml", ["vllm==0.33.0", "numpy==2.4.6"])
    (tmp_path / "out.txt").write_text(CONFLICT, encoding="utf-8")
    # the fake pip names the requirements file it was given (-r FILE) the way pip does
    exe = fake_python(
        tmp_path,
        f"""\
        while [ $# -gt 0 ]; do [ "$1" = -r ] && req="$2"; shift; done
        sed "s|REQ|$req|g" "{tmp_path}/out.txt" >&2; exit 1
        """,
    )
    result = envcheck.resolve(envcheck.read_env_file(env), exe, tmp_path)
    assert not result.ok
    # pip's "-r <temporary file> (line N)" reads as the env file's own requirement
    assert result.message.startswith("ERROR: Cannot install vllm==0.33.0, numpy==2.4.6 and vllm because")
    assert "mistral-common 1.13.1 depends on numpy<2.4" in result.message
    assert "Collecting" not in result.message
    text = envcheck.describe(result)
    assert text.startswith(f"[envs_check] FAIL {env} (python 3.11, 2 pip requirements)")
    assert "The user requested numpy==2.4.6" in text


def test_a_resolution_lists_what_pip_would_install(tmp_path):
    env = write_env(tmp_path / "ok.yaml", ["six==1.16.0"])
    report = {"install": [{"metadata": {"name": "six", "version": "1.16.0"}}]}
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    # the fake pip copies the prepared report to the path after --report, and checks the flags it was given
    exe = fake_python(
        tmp_path,
        f"""\
        args="$*"
        for flag in --isolated --dry-run --ignore-installed --use-feature=fast-deps; do
          case " $args " in *" $flag "*) ;; *) echo "missing $flag" >&2; exit 2;; esac
        done
        while [ $# -gt 0 ]; do [ "$1" = --report ] && cp "{tmp_path}/report.json" "$2"; shift; done
        """,
    )
    result = envcheck.resolve(envcheck.read_env_file(env), exe, tmp_path)
    assert result.ok, result.message
    assert result.packages == ["six==1.16.0"]
    assert "PASS" in envcheck.describe(result) and "resolves to 1 packages" in envcheck.describe(result)


def test_a_missing_interpreter_fails_naming_it(tmp_path):
    env = write_env(tmp_path / "old.yaml", ["six"], python="python=2.9")
    (result,) = envcheck.check_files([env], work=tmp_path)
    assert not result.ok and "python2.9 is not on PATH" in result.message


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="python3.11 (the env files' Python) is not on PATH")
@pytest.mark.skipif(not envcheck.index_reachable(), reason="PyPI is unreachable: the resolution needs the index")
def test_real_pip_rejects_the_numpy_pin_vllm_cannot_take(tmp_path):
    """The conflict behind issue 19 (vllm 0.33.0 -> mistral_common[image]>=1.11.6 -> numpy<2.4 on Python <= 3.12),
    reproduced on its smallest form (the lowest release vllm accepts); with numpy below 2.4 it resolves."""
    bad = write_env(tmp_path / "bad.yaml", ["mistral_common[image]==1.11.6", "numpy==2.4.6"])
    good = write_env(tmp_path / "good.yaml", ["mistral_common[image]==1.11.6", "numpy==2.3.5"])
    results = {Path(r.spec.path).name: r for r in envcheck.check_files([bad, good])}
    assert not results["bad.yaml"].ok
    assert "ResolutionImpossible" in results["bad.yaml"].message
    assert "numpy<2.4" in results["bad.yaml"].message
    assert results["good.yaml"].ok, results["good.yaml"].message
    assert "numpy==2.3.5" in results["good.yaml"].packages
