"""The benchmark-family registry (rlscaling.tasks): one declaration per family and scorer, read by the scorers'
dispatch, the config schema, the prompts and answer checks (family hooks), the report and the figures."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest
import yaml

from rlscaling import prompts, rewards, tasks
from rlscaling.config_schema import SCHEMA
from rlscaling.data import records as dataset_records
from rlscaling.study import ConfigError, benchmark_kind
from rlscaling.tasks import registry


def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def test_builtin_families_in_display_order():
    # the built-in families first, in today's order (a new family joins after them)
    assert tasks.kinds()[:3] == ("gsm8k", "math", "mmlu")
    headline = list(tasks.default_scorers().items())[:3]
    assert headline == [("gsm8k", "custom_flexible"), ("math", "math_verify"), ("mmlu", "mmlu_letter")]
    assert [tasks.title(k) for k in ("gsm8k", "math", "mmlu", "wikitext")] == ["GSM8K", "MATH", "MMLU", "WikiText-2"]
    assert tasks.title("gsm8k_platinum") == "gsm8k_platinum"  # a benchmark not named after a family: its own name
    # today's scorers keep today's order (the report's and figures' order); a new one may join anywhere
    assert _in_order(("strict", "flexible", "custom_flexible"), tasks.family("gsm8k").scorer_names(seed=False))
    assert _in_order(
        ("strict", "flexible", "custom_flexible", "seed_strict", "seed_custom_flexible"), tasks.reward_modes()
    )
    assert _in_order(("math_verify", "math_verify_first", "seed_math"), tasks.family("math").scorer_names())


def _in_order(expected: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """``expected`` is a subsequence of ``names``."""
    rest = iter(names)
    return all(name in rest for name in expected)


def test_registry_and_rewards_dispatch_name_the_same_scorers():
    """Every scorer rewards dispatches by name (verl and TRL reach scorers there) is registered, in the same family
    and order; the workflow reads the registry. (A family may bring scorers rewards cannot reach by name, if none is a
    GRPO reward: :class:`rlscaling.tasks.Family` refuses that.)"""
    for kind, names in rewards.SCORERS.items():
        assert tasks.family(kind).scorer_names() == names, kind
    assert tasks.scorer_names()[: len(rewards.ALL_SCORERS)] == rewards.ALL_SCORERS


@pytest.mark.parametrize(
    "kind, response, answer",
    [("gsm8k", "so #### 12", "12"), ("math", "so \\boxed{12}", "12"), ("mmlu", "The correct answer is B", "B")],
)
def test_each_family_scores_a_right_and_a_wrong_answer_with_every_scorer(kind, response, answer):
    for scorer in tasks.family(kind).scorers:
        extracted, right = scorer.score(response, answer)
        assert right == 1.0, (scorer.name, extracted)
        assert scorer.score("", answer) == (None, 0.0), scorer.name


def test_schema_enums_equal_the_registry_in_order():
    schema = _schema()
    bench = schema["$defs"]["benchmark"]["properties"]
    assert tuple(bench["kind"]["enum"]) == tasks.kinds(), "benchmarks.*.kind"
    assert tuple(bench["scorers"]["items"]["enum"]) == tasks.scorer_names(), "benchmarks.*.scorers"
    rl_kind = schema["properties"]["data"]["properties"]["rl_train"]["properties"]["kind"]["enum"]
    assert tuple(rl_kind) == tasks.kinds(), "data.rl_train.kind"
    modes = schema["properties"]["grpo"]["properties"]["reward_modes"]["items"]["enum"]
    assert tuple(modes) == tasks.reward_modes(), "grpo.reward_modes"


def test_every_family_declares_its_prompt_and_answer_hooks():
    for fam in tasks.families():
        assert callable(fam.prompt) and callable(fam.check_answer), fam.kind  # the seed style's is optional
        assert callable(fam.seed_prompt) or fam.kind not in ("gsm8k", "math", "mmlu"), fam.kind
        module = __import__(f"rlscaling.tasks.{fam.kind}", fromlist=["FAMILY"])
        assert module.FAMILY is fam  # declared in its own module
    assert not hasattr(prompts, "PROMPTS") and not hasattr(prompts, "SEED_PROMPTS")  # no table beside the registry
    assert not hasattr(dataset_records, "ANSWER_CHECKS")


def test_prompts_and_answer_checks_dispatch_through_the_registry(jsonqa, monkeypatch):
    item = {"id": "q1", "question": "Capital of France?", "answer": "Paris"}
    with pytest.raises(ValueError, match="benchmark family 'jsonqa' declares no prompt"):
        prompts.build_prompts([item], [], 0, 0, "jsonqa")
    with pytest.raises(ValueError, match=r"benchmark 'jsonqa' has no seed prompt; gsm8k, math, mmlu(, \w+)* have one"):
        prompts.build_prompts([item], [], 0, 0, "jsonqa", style="seed")
    with pytest.raises(ValueError, match=r"answer kind 'jsonqa': expected one of gsm8k, math, mmlu(, \w+)*$"):
        dataset_records.check_answer(item, "jsonqa", "here")

    def check(rec: dict) -> dict:
        if rec["answer"] != rec["answer"].strip():
            raise tasks.AnswerError(f"answer {rec['answer']!r} has surrounding spaces")
        return rec

    hooked = dataclasses.replace(
        jsonqa, prompt=lambda it, pool, shots, seed: f"Q: {it['question']}\nA:", check_answer=check
    )
    monkeypatch.setitem(registry._FAMILIES, "jsonqa", hooked)
    assert prompts.build_prompts([item], [], 0, 0, "jsonqa") == ["Q: Capital of France?\nA:"]
    assert dataset_records.check_answer(item, "jsonqa", "here") == item
    with pytest.raises(dataset_records.DataSourceError, match=r"^f.jsonl:3: answer ' Paris' has surrounding spaces$"):
        dataset_records.check_answer({**item, "answer": " Paris"}, "jsonqa", "f.jsonl:3")


def test_the_seed_style_is_refused_for_a_family_without_a_seed_prompt(monkeypatch):
    from rlscaling.workflow import config as rc

    from test_workflow import MICRO

    cfg = rc.load_config(MICRO)
    cfg["prompts"] = {"style": "seed"}
    benchmark, bench = next(iter(cfg["benchmarks"].items()))
    kind = bench.get("kind", benchmark)
    rc.validate_config(copy.deepcopy(cfg))
    without = dataclasses.replace(tasks.family(kind), seed_prompt=None)
    monkeypatch.setitem(registry._FAMILIES, kind, without)
    with pytest.raises(ConfigError, match=rf"benchmarks\.{benchmark}: prompts.style seed has no \w+ prompt"):
        rc.validate_config(cfg)


def test_training_settings_accept_exactly_the_reward_modes():
    from rlscaling.training.common import GRPOSettings

    section = {"backend": "trl", "rollouts_per_prompt": 2, "prompts_per_step": 1, "steps": 1, "lr": 1e-6}
    section.update(kl_coef=0.0, kl_estimator="k3")
    for mode in tasks.reward_modes():
        assert GRPOSettings.from_config({**section, "reward_mode": mode}, seed=0).reward_mode == mode
    with pytest.raises(ValueError, match="grpo.reward_mode: unknown value 'seed_flexible'"):  # a scorer, not a reward
        GRPOSettings.from_config({**section, "reward_mode": "seed_flexible"}, seed=0)


def test_an_unknown_family_is_named():
    with pytest.raises(ValueError, match=r"unknown benchmark family 'arc'; registered: gsm8k, math, mmlu"):
        tasks.family("arc")
    with pytest.raises(ValueError, match=r"unknown scorer 'exact'"):
        tasks.scorer("exact")
    with pytest.raises(ConfigError, match=r"benchmarks\.arc\.kind: .*'arc'.*gsm8k\|math\|mmlu"):
        benchmark_kind("arc", {})
    with pytest.raises(ValueError, match="answer kind 'arc'"):
        dataset_records.check_answer({"id": "1", "question": "q", "answer": "1"}, "arc", "here")
    with pytest.raises(ValueError, match="unknown benchmark 'arc'"):
        prompts.seed_prompt({"id": "1", "question": "q", "answer": "1"}, [], 0, "arc")


def test_bad_registrations_are_refused(monkeypatch):
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    noop = lambda response, answer: (None, 0.0)
    with pytest.raises(ValueError, match="'gsm8k' is registered twice"):
        tasks.register(tasks.Family("gsm8k", "again", (tasks.Scorer("x", noop),), "x"))
    with pytest.raises(ValueError, match=r"already registered by another family: \['strict \(gsm8k\)'\]"):
        tasks.register(tasks.Family("other", "Other", (tasks.Scorer("strict", noop),), "strict"))
    with pytest.raises(ValueError, match="default scorer 'y' is not one of"):
        tasks.Family("other", "Other", (tasks.Scorer("x", noop),), "y")
    with pytest.raises(ValueError, match=r"GRPO rewards \['x'\] are not scorers of rlscaling.rewards"):
        tasks.Family("other", "Other", (tasks.Scorer("x", noop, reward=True),), "x")
    with pytest.raises(ValueError, match=r"unknown scorer for gsm8k 'math_verify'; registered: strict, flexible"):
        tasks.family("gsm8k").scorer("math_verify")
    with pytest.raises(ValueError, match="duplicate scorer names"):
        tasks.Family("other", "Other", (tasks.Scorer("x", noop), tasks.Scorer("x", noop)), "x")


def _exact(response: str, answer: str | int) -> tuple[str | None, float]:
    got = response.strip() or None
    return got, 1.0 if got == str(answer) else 0.0


@pytest.fixture
def jsonqa(monkeypatch):
    """A family registered at test time (as a local-JSONL benchmark would be): title "JSON QA", one scorer."""
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    scorer = tasks.Scorer("jsonqa_exact", _exact, label="exact string", color="#CC79A7")
    return tasks.register(tasks.Family("jsonqa", "JSON QA", (scorer,), "jsonqa_exact"))


def _jsonqa_summary() -> pd.DataFrame:
    rows = []
    for model, n, acc in (("small", 1e5, 0.2), ("big", 8e5, 0.4)):
        for step, gain in ((0, 0.0), (40, 0.1)):
            a = acc + gain
            rows.append(
                {
                    "study": "unit",
                    "model": model,
                    "n_params": n,
                    "pretrain_tokens": 6e5,
                    "c_pretrain": 6 * n * 6e5,
                    "rl_step": step,
                    "c_rl": 1e9 * step,
                    "benchmark": "jsonqa",
                    "subset": "all",
                    "shots": 0,
                    "scorer": "jsonqa_exact",
                    "n_items": 50,
                    "accuracy": a,
                    "ci_low": a - 0.05,
                    "ci_high": a + 0.05,
                }
            )
    return pd.DataFrame(rows)


def test_a_family_registered_later_reaches_the_report_and_the_figures(jsonqa, tmp_path):
    from rlscaling.report import summary as report
    from rlscaling.report.plots import bars, layout

    assert tasks.kinds()[-1] == "jsonqa" and tasks.scorer_label("jsonqa_exact") == "exact string"
    md = report.render_summary_md(_jsonqa_summary())
    assert "### JSON QA (0-shot, `jsonqa_exact`)" in md  # not silently dropped
    scorer, rows = layout.benchmark_rows(_jsonqa_summary(), "jsonqa", None, 0)
    assert scorer == "jsonqa_exact" and len(rows) == 4
    written = bars.plot_cross_model(_jsonqa_summary(), tmp_path / "cross_model_jsonqa", benchmark="jsonqa")
    assert [p.suffix for p in written] == [".png", ".svg"]


def test_without_the_family_its_rows_have_no_headline_section():
    """The counterpart of the test above: the report's gain sections come from the registry, not from the rows."""
    from rlscaling.report import summary as report

    assert "JSON QA" not in report.render_summary_md(_jsonqa_summary())


def test_a_benchmark_not_named_after_its_family_gets_its_headline_section():
    from rlscaling.report import summary as report

    summary = _jsonqa_summary().assign(benchmark="gsm8k_hard", scorer="custom_flexible")
    md = report.render_summary_md(summary)
    assert "### gsm8k_hard (0-shot, `custom_flexible`)" in md
