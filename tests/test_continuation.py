"""``rlscaling.rewards.continues_past_answer``: does a response go on after the line of its first ``#### n``?"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlscaling.rewards import continues_past_answer, extract_gsm8k, gsm8k


@pytest.mark.parametrize(
    "response, expected",
    [
        ("", False),
        ("   \n\t ", False),
        ("no answer at all\nQuestion: What is 1 + 1?", False),  # no answer -> False
        ("#### 7", False),  # only the answer
        ("3 + 4 = 7.\n#### 7", False),
        ("#### 7\n", False),  # trailing whitespace
        ("#### 7\n\n  \t\n", False),
        ("#### 7 \r\n", False),
        ("#### 7\u00a0\n\u2003", False),  # Unicode whitespace is whitespace
        ("3 + 4 = 7.\n#### 7\n\nQuestion: What is 2 + 2?\nAnswer: 2 + 2 = 4.\n#### 4", True),
        ("#### 7\nQuestion:", True),
        ("#### 7\r\nQuestion:", True),
        ("#### 7\n\n\n.", True),  # any non-whitespace character on a later line
        ("#### 7 apples", False),  # text on the answer's own line does not count
        ("#### 7. Question: What is 1 + 1?", False),
        ("#### 7\rQuestion:", False),  # a lone \r does not end the line
        ("#### 7 apples\nQuestion:", True),
        ("#### 7\n#### 8", True),  # two answers: the second is text after the first's line
        ("#### 7 #### 8", False),  # ... unless on the same line
        ("#### $ 7\nmore", True),
        ("####-5\nmore", True),
        ("#### 1,234.5\nmore", True),
        ("#### x\nQuestion: ...", False),  # a marker without a number is no answer
        ("####\n5\nQuestion: ...", False),  # the number must be on the marker's line
        ("#### \n#### 5\nQuestion:", True),  # the first marker WITH a number is the answer
        ("#### \n#### 5", False),
        ("#####5\nmore", True),  # "####5" inside "#####5"
        ("The answer is 7.\nQuestion: next", False),  # flexible reads 7, but there is no '####' answer
    ],
)
def test_continues_past_answer(response, expected):
    assert continues_past_answer(response) is expected


@pytest.mark.parametrize("value", [None, 7, b"#### 7\nQ", ["#### 7", "Q"]])
def test_non_strings_are_false(value):
    assert continues_past_answer(value) is False


@given(st.text(), st.text())
def test_total_and_consistent_with_strict_on_an_appended_answer(before, after):
    assert isinstance(continues_past_answer(before + after), bool)
    if extract_gsm8k(before + after, "strict") is None:  # no "#### <number>" anywhere: no answer to continue past
        assert continues_past_answer(before + after) is False
    if "####" not in before and not before.endswith("#"):
        response = f"{before}#### 7\n{after}"
        # the first answer is the one appended (before has no marker), so only `after` decides
        assert extract_gsm8k(response, "custom_flexible") == "7"
        assert continues_past_answer(response) is (after.strip() != "")


def _reference(response: str) -> bool:
    """The definition read literally: the first marker position followed by a number, then a later line."""
    for at in range(len(response)):
        number = gsm8k._AFTER_MARKER.match(response, at + 4) if response.startswith("####", at) else None
        if number:
            rest = response[number.end() :]
            return "\n" in rest and rest.split("\n", 1)[1].strip() != ""
    return False


@given(
    st.lists(st.sampled_from(["####", "#", "# ", " ", "\t", "$", "-", "7", "1,234", ".", "x", "\n", "\r"]), max_size=30)
)
def test_equals_the_literal_definition(pieces):
    response = "".join(pieces)
    assert continues_past_answer(response) is _reference(response)


@pytest.mark.parametrize(
    "response",
    [
        "#### " * 250_000,
        "####\n" * 200_000,
        "# " * 500_000,
        "#### 7\n" + " " * 1_000_000,
        "#### $" * 160_000,
        "#" * 1_000_000,
        "####-" * 200_000,
    ],
)
def test_one_megabyte_inputs_are_fast(response):
    start = time.perf_counter()
    continues_past_answer(response)
    assert time.perf_counter() - start < 0.5
