"""Evaluation strata (``procedural.stratum``, the ``subject`` of arithmetic records) and split unions
(``split: "test+validation"``: ``procedural.generate_union``, ``data.split_names``, hf concatenation, prepare's
errors naming the config key)."""

from __future__ import annotations

import itertools
import re

import pytest

from rlscaling.data import procedural
from rlscaling.data.prepare import prepare_dataset
from rlscaling.data.sources import DataSourceError, NotEnoughRecordsError, load_records, split_names
from rlscaling.study import ConfigError

from fixtures_data import GSM8K_ROWS, write_gsm8k_dir, write_mmlu_dir

# --------------------------------------------------------------------------- strata


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("3 + 7 - 5", "3term"),
        ("0 + 0 + 0", "3term"),
        ("7 - 7 - 0", "3term"),  # partial sum 0 is not negative
        ("7 - 3 - 9", "3term"),  # negative final result only
        ("5 - 3 - 6", "3term"),
        ("3 - 7 + 5", "3term_negpartial"),  # 3 - 7 = -4
        ("3 - 5 - 6", "3term_negpartial"),  # negative partial sum and result
        ("0 - 1 + 9", "3term_negpartial"),
        ("-3 + 5 + 1", "3term"),  # a negative first operand is not a partial sum
        ("3 + -5 - 4", "3term_negpartial"),  # negation: 3 + -5 = -2
        ("5 -3 + 1", "3term"),  # a glued minus is subtraction
        ("2 - 3 * 4", "3term"),  # steps 3 * 4 = 12, then 2 - 12 = -10 (the last)
        ("2 * 3 - 9", "3term"),  # partial sum 6
        ("1 - 2 - 3 + 4", "4term"),  # 4 terms, whatever the partial sums
        ("1 + 2 + 3 + 4", "4term"),
        ("9 - 1", "2term"),
        ("1 - 9", "2term"),
        ("7", "1term"),
        ("1 + 1 + 1 + 1 + 1", "5term"),
    ],
)
def test_stratum_hand_cases(expression, expected):
    assert procedural.stratum(expression) == expected


@pytest.mark.parametrize("bad", ["(1 + 2) - 3", "1.5 + 2 - 1", "", "1 + + 2", "6 / 4 + 1"])
def test_stratum_refuses_what_render_steps_refuses(bad):
    with pytest.raises(ValueError, match="cannot render"):
        procedural.stratum(bad)


def test_stratum_on_every_one_digit_chain_of_three_and_four_terms():
    for a, b, c in itertools.product(range(10), repeat=3):
        for o1, o2 in itertools.product("+-", repeat=2):
            partial = a + b if o1 == "+" else a - b
            expected = "3term_negpartial" if partial < 0 else "3term"
            assert procedural.stratum(f"{a} {o1} {b} {o2} {c}") == expected
    assert {procedural.stratum(f"{a} - {b} - {c} - {d}") for a, b, c, d in itertools.product(range(10), repeat=4)} == {
        "4term"
    }
    assert procedural.STRATA == ("3term", "3term_negpartial", "4term")


def test_records_carry_their_stratum_and_keep_their_ids():
    recs = procedural.generate("chain_sum", 6, 303, "test", terms="3-4", digits=1)
    # ids and questions as before strata existed (only ``subject`` changed: it was "chain_sum")
    assert [(r["id"], r["question"], r["subject"]) for r in recs] == [
        ("chain_sum-test-s303-00000", "What is 8 + 3 + 0?", "3term"),
        ("chain_sum-test-s303-00001", "What is 3 + 5 - 5 + 7?", "4term"),
        ("chain_sum-test-s303-00002", "What is 2 + 2 + 9 - 6?", "4term"),
        ("chain_sum-test-s303-00003", "What is 1 + 1 + 7?", "3term"),
        ("chain_sum-test-s303-00004", "What is 5 + 9 - 1?", "3term"),
        ("chain_sum-test-s303-00005", "What is 9 - 2 - 0?", "3term"),
    ]
    for task, kw in [("chain_sum", {"terms": "2-5", "negation": "true"}), ("basic_arithmetic", {"terms": "2-4"})]:
        for r in procedural.generate(task, 200, 1, "train", digits="1", **kw):
            assert r["subject"] == procedural.stratum(r["question"][len("What is ") : -1])
    assert {r["subject"] for r in procedural.generate("gsm_symbolic", 3, 0, "test")} == {"gsm_symbolic"}


# --------------------------------------------------------------------------- split unions: procedural


def _space(terms: int, split: str) -> set[str]:
    """Every one-digit ``chain_sum`` question with ``terms`` operands that is assigned to ``split``."""
    out = set()
    for nums in itertools.product(range(10), repeat=terms):
        for ops in itertools.product("+-", repeat=terms - 1):
            question = "What is " + str(nums[0]) + "".join(f" {o} {x}" for o, x in zip(ops, nums[1:])) + "?"
            out.add(question) if procedural.assigned_split(question) == split else None
    return out


def test_union_covers_each_small_term_count_whole_split_by_split():
    two = {split: _space(2, split) for split in ("test", "validation")}
    n = len(two["test"]) + len(two["validation"]) + 30
    recs = procedural.generate_union("chain_sum", n, 5, ["test", "validation"], patience=3000, terms="2-3", digits=1)
    cells = [tuple(r["id"].split("-")[1:3]) for r in recs]
    assert cells == sorted(cells, key=[("test", "t2"), ("validation", "t2"), ("test", "t3")].index)
    assert {r["question"] for r in recs if r["id"].startswith("chain_sum-test-t2-")} == two["test"]
    assert {r["question"] for r in recs if r["id"].startswith("chain_sum-validation-t2-")} == two["validation"]
    assert cells.count(("test", "t3")) == 30
    assert all(procedural.assigned_split(r["question"]) == r["id"].split("-")[1] for r in recs)
    assert len({r["question"] for r in recs}) == n and len({r["id"] for r in recs}) == n
    assert recs[0]["id"] == "chain_sum-test-t2-s5-00000" and recs[-1]["id"] == "chain_sum-test-t3-s5-00029"
    assert {r["subject"] for r in recs} <= {"2term", "3term", "3term_negpartial"}
    # deterministic and prefix-stable
    again = procedural.generate_union("chain_sum", 25, 5, ["test", "validation"], patience=3000, terms="2-3", digits=1)
    assert again == recs[:25]


def test_union_without_terms_and_for_gsm_symbolic_is_split_by_split():
    recs = procedural.generate_union("gsm_symbolic", 4, 0, ["validation", "test"])
    assert [r["id"] for r in recs] == [f"gsm_symbolic-validation-s0-{k:05d}" for k in range(4)]
    recs = procedural.generate_union("chain_sum", 3, 0, ["test", "train"], digits=1)  # reasoning-gym's 2-6 terms
    assert [r["id"] for r in recs] == [f"chain_sum-test-s0-{k:05d}" for k in range(3)]


def test_union_that_runs_dry_names_every_cell():
    sizes = [len(_space(2, split)) for split in ("test", "validation")]
    expected = (
        f"only {sum(sizes)} unique 'test+validation' questions of 500 requested "
        f"(test 2 terms: {sizes[0]}, validation 2 terms: {sizes[1]}; each stopped after 2000 draws"
    )
    with pytest.raises(procedural.ExhaustedError, match=re.escape(expected)):
        procedural.generate_union("chain_sum", 500, 0, ["test", "validation"], patience=2000, terms=2, digits=1)


def test_union_argument_errors():
    for splits, msg in [(["test", "test"], "distinct"), ([], "distinct"), (["test", "dev"], "unknown split 'dev'")]:
        with pytest.raises(procedural.ProceduralError, match=msg):
            procedural.generate_union("chain_sum", 1, 0, splits, terms=2, digits=1)
    with pytest.raises(procedural.ProceduralError, match="n must be >= 0"):
        procedural.generate_union("chain_sum", -1, 0, ["test"], terms=2)


def test_load_records_union_and_split_names():
    assert split_names("test") == ("test",)
    assert split_names("test+validation") == ("test", "validation")
    spec = "procedural:chain_sum?terms=3-4&digits=1"
    recs = load_records(spec, "test+validation", 40, 303, kind="gsm8k")
    assert [r["id"] for r in recs] == [f"chain_sum-test-t3-s303-{k:05d}" for k in range(40)]
    assert all(r["source"] == spec and r["subject"] in ("3term", "3term_negpartial") for r in recs)
    for bad in ["test+", "+test", "test+test", "test + validation", ""]:
        with pytest.raises(DataSourceError, match=re.escape(f"{spec}: split {bad!r}: expected one split name")):
            load_records(spec, bad, 5)
    with pytest.raises(DataSourceError, match="unknown split 'dev'"):
        load_records(spec, "test+dev", 5)


# --------------------------------------------------------------------------- split unions: hf, prepare


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def test_hf_union_concatenates_the_splits_in_order(hf_cache):
    spec = f"hf:gsm8k?data_dir={write_gsm8k_dir(hf_cache / 'gsm8k')}"
    both = load_records(spec, "test+train")
    n_train, n_test = len(GSM8K_ROWS["train"]), len(GSM8K_ROWS["test"])
    assert [r["id"] for r in both] == [f"gsm8k-test-{i}" for i in range(n_test)] + [
        f"gsm8k-train-{i}" for i in range(n_train)
    ]
    sample = load_records(spec, "test+train", n=3, seed=2)
    assert len(sample) == 3 and sample == load_records(spec, "test+train", n=3, seed=2)
    mmlu = f"hf:mmlu?data_dir={write_mmlu_dir(hf_cache / 'mmlu')}"
    with pytest.raises(DataSourceError, match=re.escape("split 'train+dev' names one mmlu split twice (dev+dev)")):
        load_records(mmlu, "train+dev")


def test_prepare_names_the_split_and_size_keys(monkeypatch):
    source = "procedural:chain_sum?terms=2&digits=1"
    cfg = {"seed": 0, "benchmarks": {"arith": {"kind": "gsm8k", "source": source, "split": "test+", "n": 5}}}
    with pytest.raises(ConfigError, match=re.escape("dataset 'eval_arith' (benchmarks.arith.split): split 'test+'")):
        prepare_dataset(cfg, "eval_arith")
    monkeypatch.setattr(procedural, "UNION_PATIENCE", 2000)
    cfg["benchmarks"]["arith"].update(split="test+validation", n=500)
    expected = f"dataset 'eval_arith' (benchmarks.arith.n = 500): {source}: "
    with pytest.raises(NotEnoughRecordsError, match=re.escape(expected) + ".*only .* of 500 requested"):
        prepare_dataset(cfg, "eval_arith")
    cfg["benchmarks"]["arith"].update(split="test", n=500)
    with pytest.raises(NotEnoughRecordsError, match=re.escape(expected) + ".*only .* 'test' questions of 500"):
        prepare_dataset(cfg, "eval_arith")
    cfg["benchmarks"]["arith"].update(split="test+validation", n=12)
    rows = prepare_dataset(cfg, "eval_arith")
    assert len(rows) == 12 and all(r["subject"] == "2term" for r in rows)
