"""rlscaling.data.sources and rlscaling.data.procedural: specs, converters, local hf loading, jsonl errors,
offline fail-fast, procedural determinism, disjoint splits and worked-step correctness."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlscaling.data import procedural
from rlscaling.data import sources as data
from rlscaling.data.sources import DataSourceError, load_records, parse_spec, validate_record

from fixtures_data import (
    GSM8K_ROWS,
    WIKITEXT_PAGES,
    write_gsm8k_dir,
    write_lines,
    write_math_dir,
    write_mmlu_dir,
    write_wikitext_dir,
)


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    """Keep the Arrow cache that ``load_dataset`` writes for local files inside the test's tmp dir."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


# --------------------------------------------------------------------------- specs


def test_parse_spec_kinds_and_options():
    assert parse_spec("procedural:chain_sum?terms=3-4&digits=1-2") == (
        "procedural",
        "chain_sum",
        {"terms": "3-4", "digits": "1-2"},
    )
    assert parse_spec("hf:gsm8k") == ("hf", "gsm8k", {})
    assert parse_spec("hf:mmlu?data_dir=/x/y") == ("hf", "mmlu", {"data_dir": "/x/y"})
    assert parse_spec("jsonl:/a/b.jsonl") == ("jsonl", "/a/b.jsonl", {})


@pytest.mark.parametrize(
    "spec, culprit",
    [
        ("csv:/a.csv", "'csv'"),
        ("gsm8k", "expected '<kind>:<name>"),
        ("hf:gsm9k", "'gsm9k'"),
        ("hf:gsm8k?revision=main", "'revision'"),
        ("procedural:sudoku", "'sudoku'"),
        ("procedural:chain_sum?terms=3&levels=2", "'levels'"),
        ("procedural:gsm_symbolic?terms=3", "'terms'"),
        ("procedural:chain_sum?terms=3&terms=4", "given twice"),
        ("jsonl:/a.jsonl?n=3", "'n'"),
    ],
)
def test_parse_spec_errors_name_the_culprit(spec, culprit):
    with pytest.raises(DataSourceError, match="unknown|expected|given twice") as info:
        parse_spec(spec)
    assert culprit in str(info.value)


# --------------------------------------------------------------------------- converters


def test_gsm8k_converter_strips_calculator_and_canonicalises():
    row = {"question": " Q? ", "answer": "12 * 100 = <<12*100=1200>>1200 eggs.\n#### 1,200"}
    rec = data.gsm8k_row_to_record(row, 4, "train")
    assert rec["id"] == "gsm8k-train-4"
    assert rec["question"] == "Q?"
    assert rec["answer"] == "1200"
    assert rec["solution"] == "12 * 100 = 1200 eggs.\n#### 1200"
    validate_record(rec, "test")
    with pytest.raises(DataSourceError, match="row 9.*####"):
        data.gsm8k_row_to_record({"question": "q", "answer": "no marker"}, 9)


def test_math_converter_takes_last_boxed_and_level():
    sol = "So $\\boxed{2}$ fails; $x = \\boxed{\\frac{1}{\\sqrt{2}}}$."
    rec = data.math_row_to_record({"problem": "P", "solution": sol, "type": "Algebra", "level": "Level 4"}, 0)
    assert (rec["answer"], rec["subject"], rec["level"]) == ("\\frac{1}{\\sqrt{2}}", "Algebra", 4)
    rec = data.math_row_to_record({"problem": "P", "solution": "$\\boxed{12.0}$", "type": "T", "level": "Level ?"}, 1)
    assert (rec["answer"], rec["level"]) == ("12", "Level ?")
    with pytest.raises(DataSourceError, match="boxed"):
        data.math_row_to_record({"problem": "P", "solution": "no box", "type": "T", "level": "Level 1"}, 2)


def test_mmlu_and_wikitext_converters():
    rec = data.mmlu_row_to_record({"question": "Q", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 3}, 0)
    assert (rec["answer"], rec["choices"], rec["subject"]) == ("D", ["a", "b", "c", "d"], "s")
    validate_record(rec, "test")
    assert data.wikitext_page_to_record({"page": " = X = \n y "}, 5, "validation") == {
        "id": "wikitext2-validation-5",
        "text": " = X = \n y ",
        "source": "hf:wikitext2",
    }


# --------------------------------------------------------------------------- hf sources from local files


def test_hf_gsm8k_from_local_parquet(hf_cache):
    root = write_gsm8k_dir(hf_cache / "gsm8k")
    spec = f"hf:gsm8k?data_dir={root}"
    test = load_records(spec, split="test")
    assert [r["answer"] for r in test] == ["10", "20"]
    assert all(r["source"] == spec and r["solution"].endswith(f"#### {r['answer']}") for r in test)
    train = load_records(spec, split="train", n=2, seed=1)
    assert len(train) == 2 and {r["question"] for r in train} <= {r["question"] for r in GSM8K_ROWS["train"]}
    assert train == load_records(spec, split="train", n=2, seed=1)
    with pytest.raises(DataSourceError, match="'validation' does not exist"):
        load_records(spec, split="validation")


def test_hf_math_mmlu_wikitext_from_local_files(hf_cache):
    math = load_records(f"hf:math?data_dir={write_math_dir(hf_cache / 'math')}", split="test")
    assert [(r["answer"], r["subject"], r["level"]) for r in math] == [
        ("\\frac{1}{2}", "Algebra", 2),
        ("1000", "Number Theory", "Level ?"),
    ]
    mmlu_dir = write_mmlu_dir(hf_cache / "mmlu")
    pool = load_records(f"hf:mmlu?data_dir={mmlu_dir}", split="train")  # MMLU's few-shot split is dev
    assert [r["answer"] for r in pool] == ["C", "B"] and pool[0]["id"] == "mmlu-dev-0"
    text = load_records(f"hf:wikitext2?data_dir={write_wikitext_dir(hf_cache / 'wt')}", split="validation")
    assert [(r["id"], r["text"]) for r in text] == [
        ("wikitext2-validation-0", WIKITEXT_PAGES[0]),
        ("wikitext2-validation-1", WIKITEXT_PAGES[1]),
    ]


def test_hf_local_dir_errors(hf_cache):
    with pytest.raises(DataSourceError, match="not a directory"):
        load_records(f"hf:gsm8k?data_dir={hf_cache / 'missing'}")
    empty = hf_cache / "empty"
    empty.mkdir()
    with pytest.raises(DataSourceError, match="no files for split 'test'"):
        load_records(f"hf:gsm8k?data_dir={empty}")
    bad = hf_cache / "bad"
    write_lines(bad / "test.jsonl", [{"question": "q", "solution": "s"}])
    with pytest.raises(DataSourceError, match="lacks column 'answer'"):
        load_records(f"hf:gsm8k?data_dir={bad}")


# --------------------------------------------------------------------------- offline fail-fast


def test_offline_hf_source_fails_fast_in_a_fresh_process(tmp_path):
    """The real path: env set before python starts, empty cache -> one DataSourceError, no retries."""
    code = (
        "import time; from rlscaling.data.sources import load_records, DataSourceError\n"
        "t = time.perf_counter()\n"
        "try:\n    load_records('hf:gsm8k')\n"
        "except DataSourceError as e:\n    print('ERR', round(time.perf_counter() - t, 3), e)\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    env.pop("HF_DATASETS_CACHE", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("ERR"), out.stderr[-2000:]
    _, seconds, message = out.stdout.split(" ", 2)
    assert float(seconds) < 5
    assert "openai/gsm8k" in message and "HF_DATASETS_OFFLINE=1" in message and "procedural:" in message
    assert "Traceback" not in out.stderr


def test_unreachable_hub_without_offline_mode_fails_fast(monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    t = time.perf_counter()
    with pytest.raises(DataSourceError, match="unreachable") as info:
        load_records("hf:math")
    assert time.perf_counter() - t < 5
    assert "EleutherAI/hendrycks_math" in str(info.value) and "MATH-lighteval" in str(info.value)


def test_offline_mode_wraps_the_loader_error(monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)

    def fail(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'cais/mmlu' on the Hub (OfflineModeIsEnabled)\nmore")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(DataSourceError, match=r"cais/mmlu \(config all\), split test: offline mode") as info:
        load_records("hf:mmlu")
    assert "more" not in str(info.value)


# --------------------------------------------------------------------------- jsonl


def test_jsonl_records_and_line_numbered_errors(tmp_path):
    good = write_lines(
        tmp_path / "good.jsonl",
        [
            {"id": "a", "question": "What is 1 + 1?", "answer": "2.0"},
            "",
            {"id": "b", "question": "Pick", "answer": "B", "choices": ["x", "y"]},
        ],
    )
    recs = load_records(f"jsonl:{good}")
    assert [r["answer"] for r in recs] == ["2", "B"] and recs[0]["source"] == f"jsonl:{good}"
    assert recs[0]["solution"] is None
    missing = write_lines(
        tmp_path / "missing.jsonl", [{"id": "a", "question": "q", "answer": "1"}, "", {"id": "b", "question": "q"}]
    )
    with pytest.raises(DataSourceError, match=rf"{missing}:3: missing required field 'answer'"):
        load_records(f"jsonl:{missing}")
    malformed = write_lines(tmp_path / "malformed.jsonl", [{"id": "a", "question": "q", "answer": "1"}, "{oops"])
    with pytest.raises(DataSourceError, match=rf"{malformed}:2: malformed JSON"):
        load_records(f"jsonl:{malformed}")
    badletter = write_lines(
        tmp_path / "letter.jsonl", [{"id": "a", "question": "q", "answer": "E", "choices": ["1", "2", "3", "4"]}]
    )
    with pytest.raises(DataSourceError, match=r"letter.jsonl:1: answer 'E' is not a choice letter"):
        load_records(f"jsonl:{badletter}")
    with pytest.raises(DataSourceError, match="no such file"):
        load_records(f"jsonl:{tmp_path / 'nope.jsonl'}")


def test_validate_record_types():
    with pytest.raises(DataSourceError, match="here: field 'id' must be a non-empty string"):
        validate_record({"id": 3, "question": "q", "answer": "1"}, "here")
    with pytest.raises(DataSourceError, match="field 'level'"):
        validate_record({"id": "x", "question": "q", "answer": "1", "level": 2.5}, "here")
    assert validate_record({"id": "t", "text": "abc"}, "w") == {"id": "t", "text": "abc", "source": None}


# --------------------------------------------------------------------------- procedural


def test_render_steps_examples():
    assert procedural.render_steps("12 + 7 - 5") == ("12 + 7 = 19. 19 - 5 = 14.", "14")
    assert procedural.render_steps("7") == ("7 = 7.", "7")
    assert procedural.render_steps("3 + -5 - 4") == ("3 + -5 = -2. -2 - 4 = -6.", "-6")
    assert procedural.render_steps("2 + 3 * 4 - 6 / 2") == ("3 * 4 = 12. 6 / 2 = 3. 2 + 12 = 14. 14 - 3 = 11.", "11")
    for bad in ("(1 + 2)", "1 +", "1.5 + 2", "7 / 2"):
        with pytest.raises(ValueError, match="cannot render"):
            procedural.render_steps(bad)


def test_render_steps_sign_slip_drops_minus_signs_consistently():
    assert procedural.render_steps("3 - 5 - 6", sign_slip=True) == ("3 - 5 = 2. 2 - 6 = 4.", "4")
    assert procedural.render_steps("4 - 8 + 1", sign_slip=True) == ("4 - 8 = 4. 4 + 1 = 5.", "5")
    assert procedural.render_steps("2 - 3 * 4", sign_slip=True) == ("3 * 4 = 12. 2 - 12 = 10.", "10")
    assert procedural.render_steps("9 - 2 + 3", sign_slip=True) == procedural.render_steps("9 - 2 + 3")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 99), min_size=2, max_size=6), st.data())
def test_render_steps_sign_slip_is_the_absolute_value_chain(numbers, draw):
    ops = [draw.draw(st.sampled_from("+-")) for _ in numbers[1:]]
    expression = " ".join([str(numbers[0])] + [f"{o} {n}" for o, n in zip(ops, numbers[1:])])
    total = numbers[0]
    for o, n in zip(ops, numbers[1:]):
        total = abs(total + n if o == "+" else total - n)
    steps, answer = procedural.render_steps(expression, sign_slip=True)
    assert answer == str(total) and "= -" not in steps
    if answer == procedural.render_steps(expression)[1]:  # no slip happened, or one that cancelled out
        assert "-" not in answer


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-999, 999), min_size=1, max_size=7), st.data())
def test_render_steps_matches_python_arithmetic(numbers, draw):
    ops = [draw.draw(st.sampled_from("+-*")) for _ in numbers[1:]]
    expression = " ".join([str(numbers[0])] + [f"{o} {n}" for o, n in zip(ops, numbers[1:])])
    steps, answer = procedural.render_steps(expression)
    assert answer == str(eval(expression))  # Python follows the same precedence
    assert steps.endswith(f"= {answer}.")


@pytest.mark.parametrize(
    "task, difficulty",
    [
        ("chain_sum", {"terms": "3-4", "digits": "1-2"}),
        ("chain_sum", {"terms": "2-5", "digits": "1-3", "negation": "true"}),
        ("basic_arithmetic", {"terms": "2-4", "digits": "1-2"}),
        ("gsm_symbolic", {}),
    ],
)
def test_worked_steps_end_at_the_reasoning_gym_answer(task, difficulty):
    """``generate`` asserts renderer == reasoning-gym on every item; check the record text as well."""
    for seed in range(3):
        for rec in procedural.generate(task, 150, seed, "train", **difficulty):
            last = rec["solution"].splitlines()[-1]
            assert last == f"#### {rec['answer']}"
            if task != "gsm_symbolic":
                assert rec["solution"].splitlines()[0].endswith(f"= {rec['answer']}.")
                steps, answer = procedural.render_steps(rec["question"][len("What is ") : -1])
                assert answer == rec["answer"]
            validate_record(rec, task)


def test_gsm_symbolic_records_are_gsm8k_style():
    recs = procedural.generate("gsm_symbolic", 60, 7, "test")
    assert all("Give the result" not in r["question"] and r["solution"].count("####") == 1 for r in recs)
    assert len({r["question"].split()[1] for r in recs}) > 5  # many templates, not one


def test_gsm_symbolic_cot_disagreeing_with_answer_is_caught():
    raw = {"question": "q", "answer": "5", "metadata": {"answer_cot": "2 + 2 = 4\n#### 4"}}
    with pytest.raises(AssertionError, match="ends at 4"):
        procedural._render_gsm_symbolic_item(raw)


def test_generate_is_deterministic_and_prefix_stable():
    a = procedural.generate("chain_sum", 50, 11, "test", terms="3-4", digits="1-2")
    assert a == procedural.generate("chain_sum", 50, 11, "test", terms="3-4", digits="1-2")
    assert a[:20] == procedural.generate("chain_sum", 20, 11, "test", terms="3-4", digits="1-2")
    assert a != procedural.generate("chain_sum", 50, 12, "test", terms="3-4", digits="1-2")
    assert len({r["question"] for r in a}) == 50 and len({r["id"] for r in a}) == 50


def test_splits_are_disjoint_across_splits_and_seeds():
    kw = {"terms": "2-3", "digits": "1"}  # small question space (~2,200 items): overlap would show
    questions = {}
    for split, n, seed in [("train", 1500, 202), ("test", 150, 303), ("validation", 150, 404), ("train", 300, 505)]:
        recs = load_records(f"procedural:chain_sum?terms={kw['terms']}&digits={kw['digits']}", split, n, seed)
        assert len(recs) == n
        questions.setdefault(split, set()).update(r["question"] for r in recs)
    assert not questions["train"] & questions["test"]
    assert not questions["train"] & questions["validation"]
    assert not questions["test"] & questions["validation"]
    assert all(procedural.assigned_split(q) == s for s, qs in questions.items() for q in qs)


def test_split_seed_is_far_apart_and_split_specific():
    seeds = {procedural.split_seed(s, sp) for s in range(50) for sp in procedural.SPLIT_FRACTIONS}
    assert len(seeds) == 150
    ordered = sorted(seeds)
    assert min(b - a for a, b in zip(ordered, ordered[1:])) > 10**6  # reasoning-gym seeds item i with seed + i
    with pytest.raises(procedural.ProceduralError, match="unknown split 'dev'"):
        procedural.split_seed(0, "dev")


def test_difficulty_mapping_and_errors():
    assert procedural.difficulty_config("chain_sum", terms="3-4", digits=2, negation="false") == {
        "min_terms": 3,
        "max_terms": 4,
        "min_digits": 2,
        "max_digits": 2,
        "allow_negation": False,
    }
    cfg = procedural.difficulty_config("basic_arithmetic", terms=(2, 3))
    assert cfg["operators"] == ("+", "-") and cfg["allow_parentheses"] is False
    bad = [({"terms": "4-3"}, "lo <= hi"), ({"digits": "x"}, "'lo-hi'"), ({"negation": "maybe"}, "true/false")]
    for kwargs, msg in bad:
        with pytest.raises(procedural.ProceduralError, match=msg):
            procedural.difficulty_config("chain_sum", **kwargs)


def test_exhausted_question_space_is_a_clear_error():
    with pytest.raises(DataSourceError, match=r"only \d+ unique 'test' questions of 500"):
        load_records("procedural:chain_sum?terms=2&digits=1", "test", 500, 0)  # 200 questions in all
    with pytest.raises(DataSourceError, match="need n"):
        load_records("procedural:chain_sum")


# --------------------------------------------------------------------------- answers checked against their benchmark


def test_jsonl_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        b'{"id": "a", "question": "q", "answer": "1"}\n\n{"id": "b", "question": "caf\xe9?", "answer": "2"}\n'
    )
    with pytest.raises(DataSourceError, match=rf"{path}:3: not valid UTF-8 \(byte\(s\) e9 at byte 29 of the line"):
        load_records(f"jsonl:{path}")


@pytest.mark.parametrize("answer", ["two", "NaN", "nan", "inf", "1/2", "1e3", "7 apples", "$", "--3"])
def test_gsm8k_answer_that_no_scorer_can_match_is_refused_with_file_and_line(tmp_path, answer):
    path = write_lines(
        tmp_path / "g.jsonl",
        [{"id": "a", "question": "q", "answer": "3"}, "", {"id": "b", "question": "q", "answer": answer}],
    )
    with pytest.raises(DataSourceError, match=rf"{path}:3: answer .* is not a number the GSM8K scorers can match"):
        load_records(f"jsonl:{path}", kind="gsm8k")
    assert len(load_records(f"jsonl:{path}")) == 2  # without a kind only the shape is checked


def test_every_record_is_checked_not_only_the_subsample(tmp_path):
    rows = [{"id": f"r{i}", "question": "q", "answer": str(i)} for i in range(20)]
    rows[17]["answer"] = "seventeen"
    path = write_lines(tmp_path / "g.jsonl", rows)
    with pytest.raises(DataSourceError, match=rf"{path}:18: answer 'seventeen'"):
        load_records(f"jsonl:{path}", n=2, seed=0, kind="gsm8k")


@given(st.one_of(st.text(max_size=12), st.from_regex(r"[-+$]?[0-9,]{1,8}(\.[0-9]{0,3})?\.?", fullmatch=True)))
@settings(max_examples=300, deadline=None)
def test_gsm8k_answer_accepted_at_preparation_iff_the_scorers_accept_it(answer):
    """ "Valid at preparation" means "scorable": the scorer raises on exactly the answers preparation refuses,
    and a response stating an accepted answer scores 1 in every GSM8K mode."""
    from rlscaling.rewards import MODES, score_gsm8k

    rec = {"id": "x", "question": "q", "answer": answer, "choices": None}
    try:
        prepared = data.check_answer(rec, "gsm8k", "here")["answer"]
    except DataSourceError:
        prepared = None
    try:
        score_gsm8k("#### 1", answer, "strict")
        scorable = True
    except ValueError:
        scorable = False
    assert (prepared is not None) == scorable
    if prepared is not None:
        assert all(score_gsm8k(f"The answer is #### {prepared}", prepared, mode) == 1.0 for mode in MODES)


def test_math_and_mmlu_answers_checked():
    check = data.check_answer
    assert check({"question": "q", "answer": "1,000"}, "math", "w")["answer"] == "1000"
    assert check({"question": "q", "answer": "\\frac{1}{2}"}, "math", "w")["answer"] == "\\frac{1}{2}"
    for empty in (" ", "\\boxed{}", "\\boxed{ }"):
        with pytest.raises(DataSourceError, match="w: MATH answer .* is empty"):
            check({"question": "q", "answer": empty}, "math", "w")
    assert check({"question": "q", "answer": "B", "choices": ["x", "y"]}, "mmlu", "w")["answer"] == "B"
    with pytest.raises(DataSourceError, match="w: MMLU items need 'choices'"):
        check({"question": "q", "answer": "B", "choices": None}, "mmlu", "w")
    with pytest.raises(DataSourceError, match="w: answer 'C' is not a choice letter in 'AB'"):
        check({"question": "q", "answer": "C", "choices": ["x", "y"]}, "mmlu", "w")
    with pytest.raises(DataSourceError, match="w: a text record"):
        check({"id": "t", "text": "words"}, "gsm8k", "w")
    with pytest.raises(ValueError, match="answer kind 'essay'"):
        check({"question": "q", "answer": "1"}, "essay", "w")


def test_hf_rows_checked_against_the_kind_name_source_split_row_and_id(hf_cache):
    spec = f"hf:gsm8k?data_dir={write_gsm8k_dir(hf_cache / 'gsm8k')}"
    assert [r["answer"] for r in load_records(spec, kind="gsm8k")] == ["10", "20"]
    with pytest.raises(DataSourceError, match=r"hf:gsm8k\?data_dir=.* test row 0 \(id 'gsm8k-test-0'\): MMLU items"):
        load_records(spec, kind="mmlu")


def test_procedural_items_checked_with_index_and_id(monkeypatch):
    spec = "procedural:chain_sum?terms=2&digits=1"
    good = load_records(spec, split="train", n=5, seed=3, kind="gsm8k")
    assert len(good) == 5
    bad = [dict(good[0]), {**good[1], "answer": "eleven"}]
    monkeypatch.setattr(procedural, "generate", lambda *a, **k: bad)
    where = re.escape(f"{spec} train item 1 (id '{good[1]['id']}'): answer 'eleven'")
    with pytest.raises(DataSourceError, match=where):
        load_records(spec, split="train", n=2, seed=3, kind="gsm8k")


# --------------------------------------------------------------------------- WikiText pages


@pytest.mark.parametrize(
    ("line", "title"),
    [
        (" = Valkyria = \n", True),
        ("= A = B =", True),
        (" = 1 = ", True),
        (" = = Gameplay = = \n", False),
        (" = = = Reception = = = ", False),
        (" = = ", False),
        (" = ", False),
        (" The sum 1 = 1 = 2 . ", False),
        ("", False),
        ("==", False),
    ],
)
def test_wikitext_title_lines(line, title):
    assert data.is_wikitext_title(line) is title


def test_wikitext_pages_rebuilds_whole_documents_from_lines():
    from fixtures_data import WIKITEXT_LINES

    assert data.wikitext_pages(WIKITEXT_LINES) == WIKITEXT_PAGES
    assert data.wikitext_pages(["preamble\n", "", *WIKITEXT_LINES]) == WIKITEXT_PAGES  # text before a title dropped
    assert data.wikitext_pages([]) == [] and data.wikitext_pages(["", " no title \n"]) == []
    joined = "".join(line if line else "\n" for line in WIKITEXT_LINES)  # every line once, in order
    assert "\n".join(WIKITEXT_PAGES) == joined[1:-1]


def test_wikitext_local_page_layout_kept_whole(hf_cache):
    from fixtures_data import write_wikitext_pages_dir

    spec = f"hf:wikitext2?data_dir={write_wikitext_pages_dir(hf_cache / 'pages')}"
    assert [r["text"] for r in load_records(spec, split="validation")] == WIKITEXT_PAGES


def test_wikitext_hub_loads_lm_evals_document_level_copy_then_falls_back_to_lines(monkeypatch):
    from fixtures_data import WIKITEXT_LINES

    calls = []

    def fake_hub(dataset, config, split, source, hint=True):
        calls.append((dataset, config, split))
        if dataset == "EleutherAI/wikitext_document_level":
            return [{"page": page} for page in ["", *WIKITEXT_PAGES]]
        return [{"text": line} for line in WIKITEXT_LINES]

    monkeypatch.setattr(data, "_load_hub", fake_hub)
    recs = load_records("hf:wikitext2", split="test")
    assert [r["text"] for r in recs] == WIKITEXT_PAGES and [r["id"] for r in recs] == [
        "wikitext2-test-0",
        "wikitext2-test-1",
    ]
    assert calls == [("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1", "test")]

    def doc_level_missing(dataset, config, split, source, hint=True):
        if dataset == "EleutherAI/wikitext_document_level":
            raise DataSourceError(f"{source}: cannot load {dataset}")
        return fake_hub(dataset, config, split, source, hint)

    calls.clear()
    monkeypatch.setattr(data, "_load_hub", doc_level_missing)
    assert [r["text"] for r in load_records("hf:wikitext2", split="validation")] == WIKITEXT_PAGES
    assert calls == [("wikitext", "wikitext-2-raw-v1", "validation")]
