"""Does every conda environment file install? A pip resolution of each ``envs/*.yaml`` pip list with its Python.

Snakemake (``--software-deployment-method conda``) creates every environment before the first job, so one env file
that cannot be resolved stops the whole study. This module proves, without installing anything, that each file's
``pip:`` list resolves for the Python the file names (``python=3.11``): in a throwaway venv of that Python it runs

    pip --isolated install --dry-run --ignore-installed --use-feature=fast-deps --report <json> -r <the pip list>

and reports the file's name with pip's own conflict message when it does not.

- ``--isolated``: pip reads no config file and no ``PIP_*`` variable, so the answer is PyPI's, not that of a machine's
  local wheel directories, extra indexes or constraint files (which may cap versions).
- ``--use-feature=fast-deps``: pip reads each wheel's metadata with HTTP range requests instead of downloading the
  wheel. Where the index serves PEP 658 metadata (pypi.org) pip uses that anyway; behind a mirror without it, a dry
  run of the vLLM environment would otherwise download about 5 GB of CUDA wheels (measured: 62 s at 72 MB/s, against
  34 s with fast-deps; the same 208 packages either way).
- The venv's pip is upgraded to :data:`PIP_VERSION` (the version this was measured with), so the resolver and the
  ``fast-deps`` feature do not change with the Python's bundled pip.

Conda packages other than ``python`` and ``pip`` are not resolved here (pip cannot); they are listed in the result.
Times are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rlscaling.config_schema import ROOT

PIP_VERSION = "26.3"
"""pip used for every resolution (the throwaway venv's pip is upgraded to it)."""
PIP_TIMEOUT_S = 1800
"""Longest a single resolution may run (seconds) before it counts as a failure."""
INDEX_PROBE_URL = "https://pypi.org/simple/pip/"
PREFIX = "[envs_check]"


class EnvFileError(ValueError):
    """An environment file is malformed (no pip list, no python version); the message names the file."""


@dataclass(frozen=True)
class EnvSpec:
    """What an environment file asks for: its Python (``"3.11"``), its pip requirements, other conda packages."""

    path: str
    python: str
    pip: tuple[str, ...]
    conda_other: tuple[str, ...] = ()


@dataclass
class Resolution:
    """Outcome of one env file's pip resolution: ``ok``, wall-clock ``seconds``, packages pip would install,
    and pip's error text (``message``) when it failed."""

    spec: EnvSpec
    ok: bool
    seconds: float
    packages: list[str] = field(default_factory=list)
    message: str = ""


def read_env_file(path: str | Path) -> EnvSpec:
    """Parse a conda environment file: ``dependencies`` must pin ``python=X.Y`` and hold a ``pip:`` list."""
    path = str(path)
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    deps = (doc or {}).get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(deps, list):
        raise EnvFileError(f"{path}: no `dependencies:` list")
    python, pip, other = None, None, []
    for dep in deps:
        if isinstance(dep, dict) and "pip" in dep:
            pip = dep["pip"]
        elif isinstance(dep, str):
            m = re.fullmatch(r"python\s*=+\s*(\d+\.\d+)(\.\*|\.\d+)?", dep.strip())
            if m:
                python = m.group(1)
            elif dep.strip() != "pip":
                other.append(dep.strip())
    if python is None:
        raise EnvFileError(f"{path}: dependencies name no Python version (`python=3.11`)")
    if not isinstance(pip, list) or not pip or not all(isinstance(r, str) for r in pip):
        raise EnvFileError(f"{path}: dependencies hold no `pip:` list of requirement strings")
    return EnvSpec(path, python, tuple(pip), tuple(other))


def conflict_message(pip_output: str, requirements: Path | None = None, pip: tuple[str, ...] = ()) -> str:
    """pip's explanation of a failed resolution: everything from its first ``ERROR:`` line on (the conflicting
    requirements and "The conflict is caused by:" block), else the last lines of its output. pip names a
    requirement of the (temporary) ``requirements`` file as ``-r <file> (line N)``: that becomes the env file's own
    requirement string (``pip[N - 1]``)."""
    lines = pip_output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), max(len(lines) - 20, 0))
    text = "\n".join(lines[start:]).strip()
    if requirements is not None:
        pattern = re.escape(f"-r {requirements} (line ") + r"(\d+)\)"
        text = re.sub(pattern, lambda m: pip[int(m.group(1)) - 1] if int(m.group(1)) <= len(pip) else m.group(0), text)
    return text


def make_venv(python: str, where: Path) -> Path:
    """A venv of interpreter ``python`` (e.g. ``python3.11``) under ``where``, with pip :data:`PIP_VERSION`;
    returns its interpreter. Raises ``FileNotFoundError`` naming the interpreter when it is not on PATH."""
    exe = shutil.which(python)
    if exe is None:
        raise FileNotFoundError(f"{python} is not on PATH")
    venv = where / f"venv-{python}"
    subprocess.run([exe, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
    venv_python = venv / "bin" / "python"
    subprocess.run(
        [str(venv_python), "-m", "pip", "--isolated", "install", "-q", f"pip=={PIP_VERSION}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return venv_python


def resolve(spec: EnvSpec, venv_python: str | Path, work: Path, timeout_s: float = PIP_TIMEOUT_S) -> Resolution:
    """Run the dry-run resolution of ``spec``'s pip list with ``venv_python``; nothing is installed."""
    stem = Path(spec.path).stem
    requirements, report = work / f"{stem}.requirements.txt", work / f"{stem}.report.json"
    requirements.write_text("\n".join(spec.pip) + "\n", encoding="utf-8")
    cmd = [str(venv_python), "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed"]
    cmd += ["--use-feature=fast-deps", "--no-input", "--report", str(report), "-r", str(requirements)]
    t0 = time.monotonic()
    try:
        # one stream, in pip's order: its ERROR lines go to stderr, the "conflict is caused by" block to stdout
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Resolution(spec, False, time.monotonic() - t0, message=f"pip did not finish within {timeout_s:.0f} s")
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        return Resolution(spec, False, seconds, message=conflict_message(proc.stdout, requirements, spec.pip))
    installed = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    packages = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in installed)
    return Resolution(spec, True, seconds, packages=packages)


def index_reachable(url: str = INDEX_PROBE_URL, timeout_s: float = 10.0) -> bool:
    """Whether the package index answers (tests that need it skip otherwise)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return True
    except OSError:
        return False


def check_files(paths: list[str | Path], work: Path | None = None) -> Iterator[Resolution]:
    """Resolve every env file in ``paths``, yielding each result as it is known (one throwaway venv per Python
    version, under ``work`` or a temporary directory removed afterwards). A malformed file or a missing interpreter
    is a failed :class:`Resolution`."""
    with tempfile.TemporaryDirectory(prefix="envs_check.") as tmp:
        work = Path(work or tmp)
        venvs: dict[str, Path] = {}
        for path in paths:
            try:
                spec = read_env_file(path)
            except (OSError, EnvFileError, yaml.YAMLError) as exc:
                yield Resolution(EnvSpec(str(path), "?", ()), False, 0.0, message=str(exc))
                continue
            python = f"python{spec.python}"
            if python not in venvs:
                try:
                    venvs[python] = make_venv(python, work)
                except (OSError, subprocess.CalledProcessError) as exc:
                    detail = getattr(exc, "stderr", "") or str(exc)
                    msg = f"cannot create a {python} venv with pip {PIP_VERSION}: {detail.strip()}"
                    yield Resolution(spec, False, 0.0, message=msg)
                    continue
            yield resolve(spec, venvs[python], work)


def describe(result: Resolution) -> str:
    """One report block: PASS/FAIL, the env file, its Python, packages or pip's message, and the time taken."""
    s = result.spec
    head = f"{PREFIX} {'PASS' if result.ok else 'FAIL'} {s.path} (python {s.python}, {len(s.pip)} pip requirements)"
    if result.ok:
        text = f"{head}: resolves to {len(result.packages)} packages in {result.seconds:.0f} s"
    else:
        text = f"{head} after {result.seconds:.0f} s:\n" + "\n".join("    " + ln for ln in result.message.splitlines())
    if s.conda_other:
        text += f"\n{PREFIX}   conda packages not checked by pip: {list(s.conda_other)}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlscaling.workflow.envcheck", description=__doc__.splitlines()[0])
    parser.add_argument("env_files", nargs="*", help="conda environment files (default: envs/*.yaml)")
    parser.add_argument("--expect-fail", action="store_true", help="succeed only if every file FAILS to resolve")
    args = parser.parse_args(argv)
    if not args.env_files and ROOT is None:
        print(f"{PREFIX} FAIL: no environment files given, and an installed rlscaling has no envs/ of a checkout")
        return 1
    paths = args.env_files or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "envs").glob("*.yaml"))
    if not paths:
        print(f"{PREFIX} FAIL: no environment files given and none in envs/")
        return 1
    t0 = time.monotonic()
    results = []
    for r in check_files(paths):
        print(describe(r), flush=True)
        results.append(r)
    failed = [r.spec.path for r in results if not r.ok]
    elapsed = time.monotonic() - t0
    if args.expect_fail:
        unexpected = [r.spec.path for r in results if r.ok]
        print(f"{PREFIX} expected failures: {len(failed)}/{len(results)} failed as expected ({elapsed:.0f} s)")
        return 1 if unexpected else 0
    print(f"{PREFIX} {len(results) - len(failed)}/{len(results)} environment files resolve ({elapsed:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
