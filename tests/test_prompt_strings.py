"""Every registered family's prompt strings, both ``prompts.style``s, 0-3 shots, equal the strings captured before the
prompt builders became family hooks (tests/fixtures/prompt_strings.json; cases in tests/prompt_cases.py)."""

from __future__ import annotations

import json
from pathlib import Path

from rlscaling import tasks
from rlscaling.prompts import build_prompts, rl_prompt

from prompt_cases import cases, render_all

FIXTURE = Path(__file__).parent / "fixtures" / "prompt_strings.json"


def _rendered() -> dict[str, str]:
    out = render_all(build_prompts)
    for item in cases()["gsm8k"][0]:
        for style in ("consistent", "seed"):
            for instruction in (False, True):
                out[f"rl|{style}|{instruction}|{item['id']}"] = rl_prompt(item, style, instruction, 3)
    return out


def test_prompt_strings_are_byte_identical_to_the_captured_ones():
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    got = _rendered()
    assert sorted(got) == sorted(expected)
    differ = [key for key in expected if got[key] != expected[key]]
    assert not differ, (
        f"{len(differ)} prompts changed, e.g. {differ[0]}:\n{got[differ[0]]!r}\n!=\n{expected[differ[0]]!r}"
    )


def test_the_captured_cases_cover_every_family_of_the_capture_in_both_styles():
    """The families registered when the strings were captured (a family added since brings its own prompt tests)."""
    keys = json.loads(FIXTURE.read_text(encoding="utf-8"))
    captured = ("gsm8k", "math", "mmlu")
    assert tasks.kinds()[: len(captured)] == captured
    for kind in captured:
        for style in ("consistent", "seed"):
            rendered = [k for k, v in keys.items() if k.startswith(f"{kind}|{style}|") and not v.startswith("ERROR")]
            assert rendered, f"no {style} prompt of {kind} captured"
