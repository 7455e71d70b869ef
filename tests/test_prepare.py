"""rlscaling.data.prepare: each named dataset from a pruned config; bad records are refused with the config key,
file and line before anything is returned; ``val_text`` holds whole documents."""

from __future__ import annotations

import re

import pytest

from rlscaling.data.prepare import dataset_spec, prepare_dataset
from rlscaling.data.sources import DataSourceError
from rlscaling.study import ConfigError

from fixtures_data import WIKITEXT_PAGES, write_gsm8k_dir, write_lines, write_wikitext_dir


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    """Keep the Arrow cache that ``load_dataset`` writes for local files inside the test's tmp dir."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def _bench_cfg(bench: str, **spec) -> dict:
    return {"seed": 0, "benchmarks": {bench: spec}}


@pytest.mark.parametrize("answer", ["two", "NaN"])
def test_eval_gsm8k_refuses_a_non_numeric_answer_naming_key_file_and_line(tmp_path, answer):
    path = write_lines(
        tmp_path / "gsm.jsonl",
        [{"id": "a", "question": "1+1?", "answer": "2"}, {"id": "b", "question": "one plus one?", "answer": answer}],
    )
    cfg = _bench_cfg("gsm8k", source=f"jsonl:{path}")
    expected = f"dataset 'eval_gsm8k' (benchmarks.gsm8k.source): {path}:2: answer '{answer}' is not a number"
    with pytest.raises(DataSourceError, match=re.escape(expected)):
        prepare_dataset(cfg, "eval_gsm8k")


def test_fewshot_pool_checked_as_its_benchmark_and_names_fewshot_source(tmp_path):
    good = write_lines(tmp_path / "good.jsonl", [{"id": "a", "question": "q", "answer": "1,200"}])
    bad = write_lines(tmp_path / "bad.jsonl", [{"id": "a", "question": "q", "answer": "many"}])
    cfg = _bench_cfg("arith", kind="gsm8k", source=f"jsonl:{good}", fewshot_source=f"jsonl:{bad}")
    assert [r["answer"] for r in prepare_dataset(cfg, "eval_arith")] == ["1200"]
    with pytest.raises(DataSourceError, match=re.escape(f"(benchmarks.arith.fewshot_source): {bad}:1: answer 'many'")):
        prepare_dataset(cfg, "fewshot_arith")


def test_mmlu_and_math_items_checked(tmp_path):
    nochoice = write_lines(tmp_path / "m.jsonl", [{"id": "m1", "question": "Pick", "answer": "E"}])
    with pytest.raises(DataSourceError, match=re.escape(f"{nochoice}:1: MMLU items need 'choices'")):
        prepare_dataset(_bench_cfg("mmlu", source=f"jsonl:{nochoice}"), "eval_mmlu")
    empty_box = write_lines(tmp_path / "x.jsonl", [{"id": "x", "question": "q", "answer": "\\boxed{}"}])
    with pytest.raises(DataSourceError, match=re.escape(f"{empty_box}:1: MATH answer")):
        prepare_dataset(_bench_cfg("math", source=f"jsonl:{empty_box}"), "eval_math")


def test_unknown_benchmark_kind_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="benchmarks.essay.kind"):
        dataset_spec(_bench_cfg("essay", source="jsonl:x.jsonl"), "eval_essay")


def test_rl_train_kind_from_config_or_source(tmp_path):
    def spec(source, **extra):
        return dataset_spec({"seed": 1, "data": {"rl_train": {"source": source, **extra}}}, "rl_train")

    assert spec("procedural:chain_sum?terms=3")["kind"] == "gsm8k"
    assert spec("hf:math")["kind"] == "math" and spec("hf:mmlu")["kind"] == "mmlu"
    assert spec("jsonl:x.jsonl", kind="math")["kind"] == "math"
    assert spec("procedural:chain_sum", seed=None)["seed"] == 1  # a null seed is the study seed
    with pytest.raises(ConfigError, match="data.rl_train.kind: cannot tell"):
        spec("jsonl:x.jsonl")
    with pytest.raises(ConfigError, match="data.rl_train.kind: 'essay'"):
        spec("jsonl:x.jsonl", kind="essay")


def test_rl_train_jsonl_checked_with_its_kind(tmp_path):
    path = write_lines(tmp_path / "rl.jsonl", [{"id": "a", "question": "q", "answer": "NaN"}])
    cfg = {"seed": 0, "data": {"rl_train": {"source": f"jsonl:{path}", "kind": "gsm8k"}}}
    with pytest.raises(DataSourceError, match=re.escape(f"(data.rl_train.source): {path}:1: answer 'NaN'")):
        prepare_dataset(cfg, "rl_train")


def test_hf_rows_checked_too(hf_cache):
    spec = f"hf:gsm8k?data_dir={write_gsm8k_dir(hf_cache / 'gsm8k')}"
    rows = prepare_dataset(_bench_cfg("gsm8k", source=spec), "eval_gsm8k")
    assert [r["answer"] for r in rows] == ["10", "20"]


def test_val_text_is_one_record_per_whole_wikitext_page(hf_cache):
    cfg = {"seed": 0, "val_loss": {"source": f"hf:wikitext2?data_dir={write_wikitext_dir(hf_cache / 'wt')}"}}
    rows = prepare_dataset(cfg, "val_text")
    assert rows == [
        {"id": f"wikitext2-validation-{i}", "text": page, "split": "validation"}
        for i, page in enumerate(WIKITEXT_PAGES)
    ]
    assert "= = Course = =" in rows[0]["text"] and "One stream joins it" in rows[0]["text"]  # sections stay inside
