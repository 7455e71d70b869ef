"""Tests of rlscaling.rewards: GSM8K modes, canonical numbers, MATH boxes/math-verify guard, MMLU, entry points,
and the file verl loads (verl_entry.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlscaling.rewards import (
    ALL_SCORERS,
    MODES,
    SCORERS,
    canonical_number,
    compute_score,
    extract_boxed,
    extract_first_boxed,
    extract_gsm8k,
    extract_math,
    extract_mmlu_letter,
    gsm8k,
    make_reward_fn,
    math_worker,
    normalise_math_answer,
    numbers,
    score,
    score_gsm8k,
    score_math,
    score_mmlu,
    score_response,
)
from rlscaling.rewards import math as math_scorer

COLLAPSE = "Answer: 3+4=7\n#### 7\n\nQuestion: Tom has 5 apples...\nAnswer: 5*2=10\n#### 10"

# --------------------------------------------------------------------------------------------- GSM8K table

# response -> extracted answer in (strict, flexible, custom_flexible)
GSM8K_CASES = [
    (COLLAPSE, ("10", "10", "7")),
    ("", (None, None, None)),
    ("no digits at all", (None, None, None)),
    ("The answer is 12.", (None, "12", "12")),  # sentence-final period is not a decimal point
    ("#### ", (None, None, None)),  # marker with nothing after it
    ("####", (None, None, None)),
    ("####-5", ("-5", "-5", "-5")),
    ("#### $ 42", ("42", "42", "42")),  # "$" then spaces after the marker is accepted
    ("#### $1,234.50", ("1234.5", "1234.5", "1234.5")),
    ("#### -0", ("0", "0", "0")),
    ("#### 12.0", ("12", "12", "12")),
    ("#### 12.", ("12", "12", "12")),
    ("#### 3.", ("3", "3", "3")),
    ("#### .5", ("0.5", "0.5", "0.5")),
    ("#### +3", ("3", "3", "3")),
    ("####42", ("42", "42", "42")),
    ("#### 42 apples, 7 left", ("42", "7", "42")),
    ("#### 1,234,567", ("1234567", "1234567", "1234567")),
    ("#### 1,23", ("1", "23", "1")),  # not thousands groups: "1" then "23"
    ("#### x 5", (None, "5", None)),  # first marker without a number, nothing before it
    ("so 7 #### nope, later 9", (None, "9", "7")),  # numberless first marker: last number before it
    ("a #### 5 b #### c", ("5", "5", "5")),  # strict: the last marker *with* a number
    ("#### 5\n#### 6", ("6", "6", "5")),
    ("####\n5", (None, "5", None)),  # the number must be on the marker's line
    ("10-3", (None, "3", "3")),  # binary minus is not a sign
    ("x = -3", (None, "-3", "-3")),
    ("costs $1,234.50.", (None, "1234.5", "1234.5")),
    ("3 , . 4 . ,", (None, "4", "4")),  # bare '.' and ',' are not numbers
    ("pay 007 now", (None, "7", "7")),
    ("٣ and ３ are not ASCII digits", (None, None, None)),
    ("1.2.3", (None, "0.3", "0.3")),  # tokenised forwards: "1.2" then ".3"
    ("a\x00b\x1b[31m#### 8\x07", ("8", "8", "8")),  # control characters
]


@pytest.mark.parametrize("mode_index,mode", list(enumerate(MODES)))
@pytest.mark.parametrize("response,expected", GSM8K_CASES)
def test_gsm8k_extraction_table(response, expected, mode_index, mode):
    assert extract_gsm8k(response, mode) == expected[mode_index]


@pytest.mark.parametrize("mode,score", [("strict", 0.0), ("flexible", 0.0), ("custom_flexible", 1.0)])
def test_collapse_example_scores(mode, score):
    assert score_gsm8k(COLLAPSE, "7", mode) == score


def test_window_matches_verl_last_300_characters():
    response = "#### 7" + " filler" * 60  # marker 420 characters from the end
    assert extract_gsm8k(response, "strict") == "7"
    assert extract_gsm8k(response, "strict", window=300) is None
    assert extract_gsm8k(response, "custom_flexible", window=300) is None
    assert extract_gsm8k("x" * 500 + "#### 7", "strict", window=300) == "7"
    # a number cut by the window is read as its visible tail, as verl does
    assert extract_gsm8k("12345", "flexible", window=2) == "45"


@pytest.mark.parametrize("window", [0, -1, 2.5, "300", True])
def test_bad_window_is_an_error(window):
    with pytest.raises(ValueError, match="window"):
        extract_gsm8k("#### 1", "strict", window=window)


@pytest.mark.parametrize("mode", ["loose", "", None, "STRICT"])
def test_unknown_mode_names_it_and_the_valid_ones(mode):
    with pytest.raises(ValueError) as err:
        score_gsm8k("#### 1", "1", mode)
    assert repr(mode) in str(err.value) and "custom_flexible" in str(err.value)


@pytest.mark.parametrize("truth", ["seven", "", "1/2", None])
def test_non_numeric_ground_truth_is_an_error(truth):
    with pytest.raises(ValueError, match="ground truth"):
        score_gsm8k("#### 7", truth, "strict")


@pytest.mark.parametrize("truth", ["1234", "1,234", "$1,234", "1234.00", "+1234", " 1234 ", "1234.", 1234])
def test_ground_truth_formatting_does_not_matter(truth):
    assert score_gsm8k("so #### 1,234.0", truth, "strict") == 1.0


def test_numeric_comparison():
    assert score_gsm8k("#### 12.00", "12", "strict") == 1.0
    assert score_gsm8k("#### 12.01", "12", "strict") == 0.0
    assert score_gsm8k("#### -3", "3", "strict") == 0.0


# --------------------------------------------------------------------------------------------- canonical numbers


@pytest.mark.parametrize(
    "text,expected",
    [
        ("$1,234.50", "1234.5"),
        ("-0", "0"),
        ("-0.00", "0"),
        ("12.0", "12"),
        ("1.50", "1.5"),
        ("+3", "3"),
        ("3.", "3"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("007", "7"),
        ("-$5", "-5"),
        ("$-5", "-5"),
        ("$ 42", "42"),
        (".", None),
        (",", None),
        ("", None),
        ("1e5", None),
        ("3/4", None),
        ("1,23", None),
        ("12 apples", None),
        ("٣", None),
        ("--5", None),
        ("1.2.3", None),
    ],
)
def test_canonical_number(text, expected):
    assert canonical_number(text) == expected


_number_texts = st.builds(
    lambda sign, dollar, whole, frac, period: f"{sign}{dollar}{whole}{frac}{period}",
    st.sampled_from(["", "-", "+"]),
    st.sampled_from(["", "$"]),
    st.one_of(st.integers(0, 10**12).map(str), st.integers(0, 10**12).map("{:,}".format)),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,6}", fullmatch=True)),
    st.sampled_from(["", "."]),
)


@settings(deadline=None)  # timing is tested separately; the CPU is shared
@given(_number_texts)
def test_canonical_number_is_idempotent_and_numeric(text):
    canonical = canonical_number(text)
    assert canonical is not None
    assert canonical_number(canonical) == canonical
    from decimal import Decimal

    assert Decimal(canonical) == Decimal(text.rstrip(".").replace(",", "").replace("$", "") or "0")


@settings(deadline=None)  # timing is tested separately; the CPU is shared
@given(st.text())
def test_canonical_number_is_total(text):
    canonical = canonical_number(text)
    assert canonical is None or canonical_number(canonical) == canonical


# --------------------------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(MODES), st.sampled_from([None, 5, 300]))
def test_gsm8k_is_total_on_arbitrary_text(response, mode, window):
    answer = extract_gsm8k(response, mode, window)
    assert answer is None or canonical_number(answer) == answer
    assert score_gsm8k(response, "7", mode, window) in (0.0, 1.0)


_DENSE = st.text(alphabet="0123456789.,$-+ #ax)\n", max_size=60)


@settings(max_examples=300, deadline=None)
@given(_DENSE, st.sampled_from(MODES))
def test_gsm8k_is_total_on_number_dense_text(response, mode):
    answer = extract_gsm8k(response, mode)
    assert answer is None or canonical_number(answer) == answer


def _reference_last_number(text: str) -> str | None:
    """The specification of 'last number': the last match of a plain forward scan."""
    matches = list(numbers.NUMBER.finditer(text))
    return canonical_number(matches[-1].group()) if matches else None


@settings(max_examples=500, deadline=None)
@given(st.one_of(_DENSE, st.text(alphabet="0123456789.,$- a", min_size=50, max_size=400)))
def test_backward_scan_equals_forward_scan(text):
    assert extract_gsm8k(text, "flexible") == _reference_last_number(text)


def _reference_strict(text: str) -> str | None:
    """The specification of strict: the number after the last marker position that has one."""
    for at in range(len(text) - 4, -1, -1):
        if text.startswith("####", at):
            m = gsm8k._AFTER_MARKER.match(text, at + 4)
            if m:
                return canonical_number(m.group().lstrip(" \t$"))
    return None


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["####", "#", " ", "$", "-", "5", "1,234", ".", "x", "\t", "\n", "12."]), max_size=40))
def test_strict_backward_scan_equals_reference(pieces):
    text = "".join(pieces)
    assert extract_gsm8k(text, "strict") == _reference_strict(text)


@pytest.mark.parametrize(
    "text",
    [
        "x " + "1,234" * 40,
        "1.5," * 30 + "7",
        "a -$" + "1,234,567" * 20,
        "9" * 70 + ".5",
        "1." * 100 + "12.",
        "," * 80 + "3",
    ],
)
def test_backward_scan_on_runs_longer_than_its_first_window(text):
    assert extract_gsm8k(text, "flexible") == _reference_last_number(text)


_noise = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=200).filter(
    lambda s: "####" not in s and not any(c in "0123456789" for c in s)
)
_answers = st.one_of(st.integers(-(10**9), 10**9).map(str), st.decimals(-(10**6), 10**6, places=2).map(str))


@settings(deadline=None)  # timing is tested separately; the CPU is shared
@given(_noise, _answers, st.sampled_from(MODES))
def test_noise_then_marker_scores_one_in_every_mode(noise, answer, mode):
    assert score_gsm8k(f"{noise} #### {answer}", answer, mode) == 1.0


@settings(deadline=None)  # timing is tested separately; the CPU is shared
@given(st.text().filter(lambda s: "####" not in s))
def test_custom_flexible_equals_flexible_without_marker(response):
    assert extract_gsm8k(response, "custom_flexible") == extract_gsm8k(response, "flexible")


@settings(deadline=None)  # timing is tested separately; the CPU is shared
@given(_DENSE, _DENSE)
def test_custom_flexible_is_flexible_on_the_cut_response(before, after):
    response = f"{before}####{after}"
    first = response.find("####")
    m = gsm8k._AFTER_MARKER.match(response, first + 4)
    cut = response[: m.end()] if m else response[:first]
    assert extract_gsm8k(response, "custom_flexible") == extract_gsm8k(cut, "flexible")


# --------------------------------------------------------------------------------------------- linear time

# (head, repeated unit, repeats at 1 MB, tail): the scorers' worst cases for backtracking or rescanning
ADVERSARIAL = [
    ("", "1,", 500_000, ""),
    ("", "1", 1_000_000, ""),
    ("", "#### ", 200_000, ""),
    ("", "####", 250_000, ""),
    ("", "-$", 500_000, "5"),
    ("", ".", 1_000_000, ""),
    ("", "1.", 500_000, ""),
    ("", " ", 1_000_000, "x"),
    ("", "\\boxed{", 140_000, ""),
    ("", "{", 1_000_000, ""),
    ("\\boxed{", "{", 1_000_000, ""),
    ("answer", " ", 1_000_000, "x"),
    ("", "answer is", 110_000, ""),
    ("", "\\text{", 160_000, "}"),
]


def _score_all(text: str) -> None:
    for mode in MODES:
        extract_gsm8k(text, mode)
    extract_boxed(text)
    extract_mmlu_letter(text)
    normalise_math_answer(text)


def _best_time(text: str, repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs of every scorer on ``text``, in seconds (the minimum filters out a busy CPU)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _score_all(text)
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("index", range(len(ADVERSARIAL)))
def test_one_megabyte_adversarial_inputs_take_linear_time(index):
    """Time grows linearly with the input: 8x the text may take at most 24x the time (quadratic would be 64x), plus
    50 ms of slack for timer noise on small times; and 1 MB never takes seconds. A ratio, not a wall-clock limit, so
    a loaded machine does not fail it (absolute speed is benchmarks/bench_scorers.py's job)."""
    head, unit, n, tail = ADVERSARIAL[index]
    small = _best_time(head + unit * (n // 8) + tail)
    full = _best_time(head + unit * n + tail)
    assert full < 24 * small + 0.05, f"1 MB took {full:.3f} s, 1/8 of it {small:.4f} s: not linear"
    assert full < 5.0


# --------------------------------------------------------------------------------------------- MATH


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"so \boxed{\frac{1}{2}} and then \boxed{x^{2}}.", "x^{2}"),
        (r"\boxed{\frac{a}{\sqrt{b}}}", r"\frac{a}{\sqrt{b}}"),
        (r"\fbox{7}", "7"),
        (r"\boxed 5$ done", "5"),
        (r"\boxed {12}", "12"),
        (r"\boxed {1", None),
        (r"\boxed{5} then a broken \boxed{6", "5"),  # the last box never closes: the earlier one counts
        (r"\boxed{\boxed{3}}", "3"),
        (r"\boxed{}", ""),
        (r"\boxedx{3}", None),
        ("no box", None),
        ("", None),
        ("}}}{{{", None),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"so \boxed{\frac{1}{2}} and then \boxed{x^{2}}.", r"\frac{1}{2}"),
        (r"\boxed{\frac{a}{\sqrt{b}}} then \fbox{3}", r"\frac{a}{\sqrt{b}}"),
        (r"\fbox{7} then \boxed{8}", "7"),
        (r"\boxed 5$ then \boxed{6}", "5"),
        (r"\boxed {12}", "12"),
        (r"\boxed {1", None),
        (r"a broken \boxed{6 then \boxed{5} and \boxed{4}", "5"),  # a box that never closes is skipped
        (r"\boxed{\boxed{3}} \boxed{4}", r"\boxed{3}"),  # the first box by start position
        (r"\boxed{a {b} c} \boxed{d}", "a {b} c"),
        (r"\boxed{}", ""),
        (r"\boxedx{3} \boxed{2}", "2"),
        ("no box", None),
        ("", None),
        ("}}}{{{", None),
    ],
)
def test_extract_first_boxed(text, expected):
    assert extract_first_boxed(text) == expected


def _first_boxed_reference(text: str) -> str | None:
    """Quadratic reference: try every box command start in order, the first with a complete argument wins."""
    starts = sorted(i for cmd in ("\\boxed", "\\fbox") for i in range(len(text)) if text.startswith(cmd, i))
    for at in starts:
        content = math_scorer._boxed_content(text, at, len(text))
        if content is not None:
            return content
    return None


_box_parts = st.sampled_from(["\\boxed", "\\fbox", "{", "}", " ", "1", "x", "\\frac", "$"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_box_parts, max_size=30).map("".join))
def test_extract_first_boxed_equals_the_quadratic_reference(text):
    assert extract_first_boxed(text) == _first_boxed_reference(text)


def test_extract_first_boxed_is_linear_on_many_unclosed_boxes():
    text = "\\boxed{" * 100_000 + "\\boxed{5}" + "}" * 3
    start = time.perf_counter()
    # the last 3 braces close the 99,998th to 100,000th boxes: the 99,998th is the first complete one
    assert extract_first_boxed(text) == "\\boxed{" * 2 + "\\boxed{5}}}"
    assert extract_first_boxed("\\boxed{" * 100_000 + "x") is None
    assert time.perf_counter() - start < 1.0 * (2 if sys.gettrace() else 1)


# A base model answers, then invents a follow-up problem with its own boxed answer.
_INVENTED = "\n\nProblem: What is $2+3$?\nSolution: $2+3=5$, so the answer is $\\boxed{5}$."


@pytest.mark.parametrize(
    "response,truth,first,last",
    [
        (r"so the answer is $\boxed{7}$." + _INVENTED, "7", 1.0, 0.0),  # first box right, last box wrong
        (r"so the answer is $\boxed{8}$." + _INVENTED, "5", 0.0, 1.0),  # first box wrong, last box right
        (r"so $\boxed{\dfrac{1}{2}}$." + _INVENTED, r"\frac{1}{2}", 1.0, 0.0),  # nested braces, normalised
        (r"so $\boxed{0.5}$." + _INVENTED, r"\frac{1}{2}", 1.0, 0.0),  # math-verify decides
        (r"so $\boxed{\frac{1}{2}" + _INVENTED, "5", 1.0, 1.0),  # the first box never closes
        ("no box: #### 7\nProblem: 2+3?\nSolution: #### 5", "7", 1.0, 0.0),  # no box: custom_flexible vs strict
        ("no box, 7 apples.\nProblem: 2+3?\nSolution: 5", "5", 1.0, 1.0),  # no box, no marker: the last number
        ("", "7", 0.0, 0.0),
    ],
)
def test_math_verify_first_and_last_on_invented_follow_up_problems(response, truth, first, last):
    assert score_math(response, truth, scorer="math_verify_first") == first
    assert score_math(response, truth) == score_math(response, truth, scorer="math_verify") == last
    assert score("math_verify_first", response, truth) == first and score("math_verify", response, truth) == last


def test_extract_math_names_the_answer_each_scorer_compares():
    response = r"first \boxed{7}" + _INVENTED
    assert extract_math(response, "math_verify_first") == "7" and extract_math(response) == "5"
    assert extract_math("#### 3 and #### 4", "math_verify_first") == "3"
    assert extract_math("#### 3 and #### 4", "math_verify") == "4"
    with pytest.raises(ValueError, match="'math_last'"):
        extract_math(response, "math_last")


@pytest.mark.parametrize(
    "left,right",
    [
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\left( 1, 2 \right)", "(1,2)"),
        (r"90^\circ", "90"),
        (r"5\text{ cm}", "5"),
        (r"\text{(C)}", "(C)"),
        (r"3\!000.", "3000"),
    ],
)
def test_normalise_math_answer(left, right):
    assert normalise_math_answer(left) == normalise_math_answer(right)


@pytest.mark.parametrize(
    "response,truth,expected",
    [
        (r"thus \boxed{\dfrac{1}{2}}.", r"\frac12", 1.0),  # normalised strings
        (r"thus \boxed{0.5}", r"\frac{1}{2}", 1.0),  # math-verify
        (r"thus \boxed{2}", r"\sqrt{4}", 1.0),
        (r"thus \boxed{\frac{1}{3}}", r"\frac{1}{2}", 0.0),
        (r"the area is \boxed{12\text{ m}^2}", r"12\text{ m}^2", 1.0),
        ("no box, so #### 12", "12", 1.0),  # fallback: the last #### n
        ("no box, it is 12 apples", "12", 1.0),  # fallback: the last number
        (r"final: \boxed{7}", r"The solution gives $\boxed{7}$.", 1.0),  # a solution as ground truth
        ("", "3", 0.0),
        (r"\boxed{" * 50, "3", 0.0),
    ],
)
def test_score_math(response, truth, expected):
    assert score_math(response, truth) == expected


def test_pathological_math_input_returns_within_the_guard():
    score_math(r"\boxed{0.5}", r"\frac{1}{2}")  # worker already started: time only the guarded call
    start = time.perf_counter()
    assert score_math(r"\boxed{(x+1)^{100000}}", "1", timeout_s=1.0) == 0.0
    assert time.perf_counter() - start < 1.5


def test_math_guard_works_off_the_main_thread():
    results = []
    worker = threading.Thread(
        target=lambda: results.extend(
            [score_math(r"\boxed{(x+1)^{100000}}", "1", timeout_s=1.0), score_math(r"\boxed{0.5}", r"\frac12")]
        )
    )
    start = time.perf_counter()
    worker.start()
    worker.join(timeout=30)
    assert results == [0.0, 1.0]
    assert time.perf_counter() - start < 15  # includes a worker (re)start


def test_guard_kills_a_worker_that_does_not_answer():
    hung = math_worker.GuardedWorker([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"])
    start = time.perf_counter()
    assert hung.request({"x": 1}, timeout_s=0.5) is None
    assert time.perf_counter() - start < 3
    assert hung._proc is None  # killed; the next request starts a fresh one
    hung.stop()


@pytest.mark.parametrize("truth", ["", "   ", None])
def test_math_ground_truth_must_be_given(truth):
    with pytest.raises(ValueError, match="ground truth"):
        score_math(r"\boxed{1}", truth)


# --------------------------------------------------------------------------------------------- MMLU


@pytest.mark.parametrize(
    "response,expected",
    [
        ("C", "C"),
        (" (B) because ...", "B"),
        ("D. Paris", "D"),
        ("A)", "A"),
        ("B\nQuestion: next one ... Answer: C", "B"),  # leading letter beats a later answer phrase
        ("Answer: C\nQuestion: ... Answer: A", "C"),  # first answer phrase
        ("I think the answer is (D).", "D"),
        ("the correct answer is: b", None),  # lowercase letters are not answers
        ("A man said the answer is D.", "D"),  # "A " is an article, not a leading answer
        ("Maybe (B) or (C)", "B"),
        ("The answer is a dog", None),
        ("Answer: Cats", None),
        ("", None),
        ("E", None),
    ],
)
def test_extract_mmlu_letter(response, expected):
    assert extract_mmlu_letter(response) == expected


def test_score_mmlu_accepts_letter_forms_and_indices():
    assert score_mmlu("Answer: C", "C") == score_mmlu("Answer: C", "(c)") == score_mmlu("Answer: C", 2) == 1.0
    assert score_mmlu("Answer: C", "B") == 0.0
    with pytest.raises(ValueError, match="A-D"):
        score_mmlu("C", "E")


# --------------------------------------------------------------------------------------------- entry points


@pytest.mark.parametrize(
    "source,response,truth,extra,expected",
    [
        ("openai/gsm8k", COLLAPSE, "7", None, 1.0),  # default custom_flexible
        ("gsm8k", COLLAPSE, "7", {"reward_mode": "strict"}, 0.0),
        ("procedural:chain_sum?terms=3", COLLAPSE, "10", {"reward_mode": "strict"}, 1.0),
        ("gsm8k_platinum", "#### 7" + " x" * 200, "7", {"reward_mode": "strict", "reward_window": 300}, 0.0),
        ("DigitalLearningGmbH/MATH-lighteval", r"\boxed{\dfrac12}", r"\frac{1}{2}", {}, 1.0),
        ("math500", r"\boxed{3}", "4", None, 0.0),
        ("math500", r"\boxed{3} then \boxed{4}", "3", {"reward_mode": "math_verify_first"}, 1.0),
        ("math500", r"\boxed{3} then \boxed{4}", "3", None, 0.0),  # default math_verify: the last box
        ("cais/mmlu", "B", "B", {"split": "test"}, 1.0),
    ],
)
def test_compute_score_dispatch(source, response, truth, extra, expected):
    assert compute_score(source, response, truth, extra, reward_manager="naive", step=3) == expected


def test_compute_score_errors_name_the_culprit():
    with pytest.raises(ValueError, match="'squad'"):
        compute_score("squad", "x", "y")
    with pytest.raises(ValueError, match="'lenient'"):
        compute_score("gsm8k", "#### 1", "1", {"reward_mode": "lenient"})


def test_make_reward_fn_scores_strings_and_chat_completions():
    fn = make_reward_fn("custom_flexible")
    assert fn.__name__ == "custom_flexible_reward"
    chat = [[{"role": "assistant", "content": COLLAPSE}], [{"role": "assistant", "content": "#### 3"}]]
    rewards_ = fn(prompts=["p", "q"], completions=chat, answer=["7", "4"], trainer_state=None)
    assert rewards_ == [1.0, 0.0]
    assert fn(["p", "q"], [COLLAPSE, "#### 4"], answer=["7", "4"]) == [1.0, 1.0]
    assert make_reward_fn("strict")(["p"], [COLLAPSE], answer=["7"]) == [0.0]


def test_make_reward_fn_uses_the_named_column_and_checks_it():
    fn = make_reward_fn("mmlu_letter", answer_key="target")
    assert fn.__name__ == "mmlu_letter_reward"
    assert fn(["p"], ["B"], target=["B"]) == [1.0]
    with pytest.raises(ValueError, match="'target'"):
        fn(["p"], ["B"], answer=["B"])
    with pytest.raises(ValueError, match="1 completions but 2"):
        fn(["p"], ["B"], target=["B", "C"])
    with pytest.raises(ValueError, match="'loose'"):
        make_reward_fn("loose")


def test_scorer_names_are_listed_once_per_family():
    assert SCORERS["gsm8k"][: len(MODES)] == MODES and set(SCORERS) == {"gsm8k", "math", "mmlu"}
    assert all(s.startswith("seed_") for s in SCORERS["gsm8k"][len(MODES) :])  # the seed's own, beside ours
    assert ALL_SCORERS == tuple(n for names in SCORERS.values() for n in names)
    assert len(set(ALL_SCORERS)) == len(ALL_SCORERS)


def test_every_scorer_has_a_reward_fn():
    for scorer in ALL_SCORERS:
        assert make_reward_fn(scorer).__name__ == f"{scorer}_reward"


_SCORE_RESPONSE_CASES = [
    ("gsm8k", COLLAPSE, "7"),
    ("gsm8k", COLLAPSE, "10"),
    ("gsm8k", "no answer", "3"),
    ("gsm8k", "#### 1,234.0", "1234"),
    ("math", r"so \boxed{7}." + _INVENTED, "7"),
    ("math", r"\boxed{0.5}", r"\frac{1}{2}"),
    ("math", "", "1"),
    ("math", "no box #### 4 then #### 5", "5"),
    ("mmlu", "B\nQuestion: ... Answer: C", "B"),
    ("mmlu", "none", 2),
]


@pytest.mark.parametrize("kind,response,answer", _SCORE_RESPONSE_CASES)
def test_score_response_agrees_with_each_scorer(kind, response, answer):
    for scorer in (s for s in SCORERS[kind] if not s.startswith("seed_")):  # the seed's: tests/test_seed_recipe.py
        extracted, value = score_response(kind, scorer, response, answer)
        assert value == score(scorer, response, answer)
        if kind == "gsm8k":
            assert extracted == extract_gsm8k(response, scorer)
            assert value == score_gsm8k(response, answer, scorer)
        elif kind == "math":
            assert extracted == extract_math(response, scorer)
            assert value == score_math(response, answer, scorer=scorer)
        else:
            assert extracted == extract_mmlu_letter(response) and value == score_mmlu(response, answer)


def test_score_response_values_and_errors():
    assert score_response("gsm8k", "custom_flexible", COLLAPSE, "7") == ("7", 1.0)
    assert score_response("gsm8k", "strict", COLLAPSE, "7") == ("10", 0.0)
    assert score_response("math", "math_verify_first", r"\boxed{7}" + _INVENTED, "7") == ("7", 1.0)
    assert score_response("math", "math_verify", r"\boxed{7}" + _INVENTED, "7") == ("5", 0.0)
    assert score_response("mmlu", "mmlu_letter", "(C)", "C") == ("C", 1.0)
    with pytest.raises(ValueError, match="'squad'"):
        score_response("squad", "strict", "x", "1")
    with pytest.raises(ValueError, match="scorer for math 'strict'; valid: math_verify, math_verify_first"):
        score_response("math", "strict", "x", "1")
    with pytest.raises(ValueError, match="ground truth"):
        score_response("gsm8k", "strict", "#### 3", "three")


_latexish = st.lists(
    st.sampled_from(["\\boxed", "\\fbox", "{", "}", " ", "1", "2", "/", "\\frac", "x", "^", "$", "#### 3"]), max_size=30
)


@settings(max_examples=40, deadline=None)
@given(_latexish.map("".join))
def test_math_and_mmlu_scorers_are_total(response):
    assert score_math(response, r"\frac{1}{2}", timeout_s=2.0) in (0.0, 1.0)
    assert score_mmlu(response, "A") in (0.0, 1.0)
    content = extract_boxed(response)
    assert content is None or content.count("{") == content.count("}")


@settings(deadline=None)
@given(st.text())
def test_boxed_mmlu_and_normalisation_are_total_on_arbitrary_text(text):
    extract_boxed(text)
    normalise_math_answer(text)
    assert extract_mmlu_letter(text) in (None, "A", "B", "C", "D")


def test_verl_loads_compute_score_from_the_entry_file(tmp_path):
    """verl's loader runs ``spec_from_file_location`` on the file alone (no package, so no relative imports)."""
    from rlscaling.rewards import verl_entry_path

    path = verl_entry_path()
    assert path.endswith("rewards/verl_entry.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('custom_module_123', {path!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "fn = module.compute_score\n"
        "print(fn(data_source='gsm8k', solution_str='3 + 4 = 7\\n#### 7', ground_truth='7', extra_info=None),\n"
        "      fn('math500', r'\\boxed{3} \\boxed{4}', '3', {'reward_mode': 'math_verify_first'}),\n"
        "      fn('gsm8k', '#### 8', '7', {'reward_mode': 'strict'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1.0", "1.0", "0.0"]
