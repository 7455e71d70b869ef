"""Each setting has one reader (issue 21): a GRPO job's settings are parsed into ``GRPOSettings`` only at the job
boundary, and ``prompts.style`` and a job's resources (its GPUs) are read only by :mod:`rlscaling.study`
(``prompt_style``, ``resources``, ``job_gpus``). A module that reads one of them itself fails here, naming the line.
(That a job parses once at run time is tests/test_verl_backend.py::test_a_grpo_job_parses_its_settings_once.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rlscaling import study

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "rlscaling"
READERS = {
    # a raw read of the key, as `x.get("style"` or `x["style"]` (writing {"style": ...} is not a read)
    "prompts.style": re.compile(r"""(\.get\(|\[)\s*["']style["']"""),
    "models.<m>.resources": re.compile(r"""(\.get\(|\[)\s*["'](resources|gpus)["']\s*[,)\]]"""),
}


def _code_files() -> list[Path]:
    return sorted(SRC.rglob("*.py")) + sorted((ROOT / "workflow").rglob("*.smk")) + [ROOT / "Snakefile"]


@pytest.mark.parametrize("setting", list(READERS))
def test_only_the_study_reads_the_setting(setting):
    pattern = READERS[setting]
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _code_files()
        if path != SRC / "study.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and "frame[" not in line  # gpu_hours' table column of the same name
    ]
    assert not found, f"{setting} read outside rlscaling.study (use its function): {found}"


def test_the_patterns_see_what_they_forbid():
    """The check above can fail: each pattern matches the study's own reads."""
    text = (SRC / "study.py").read_text(encoding="utf-8")
    for setting, pattern in READERS.items():
        assert pattern.search(text), setting


def test_grpo_settings_are_parsed_at_the_job_boundary_only():
    """Under training/, ``GRPOSettings.from_config`` is called by ``job_grpo_settings`` alone (the job boundary's
    parse, also what callers outside a job use); backends receive the parsed settings."""
    calls = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((SRC / "training").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "GRPOSettings.from_config(" in line
    ]
    assert calls == ["src/rlscaling/training/common.py:" + str(_line_of("return GRPOSettings.from_config("))]


def _line_of(text: str) -> int:
    lines = (SRC / "training" / "common.py").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_job_gpus_and_prompt_style_defaults():
    cfg = {"models": {"a": {"resources": {"grpo": {"gpus": 4, "cpus": 8}}}, "b": {}}, "prompts": {"style": "seed"}}
    assert study.job_gpus(cfg, "a", "grpo", 1) == 4 and study.job_gpus(cfg, "a", "evaluate") is None
    assert study.job_gpus(cfg, "b", "grpo", 1) == 1 and study.resources(cfg, "a", "grpo") == {"gpus": 4, "cpus": 8}
    assert study.prompt_style(cfg) == "seed" and study.prompt_style({}) == "consistent"
    with pytest.raises(ValueError, match="prompts.style: 'chat' is not one of consistent, seed"):
        study.prompt_style({"prompts": {"style": "chat"}})
