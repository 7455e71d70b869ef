"""Named RL training sets (``data.rl_train_sets``, ``grpo.train``) as a sweep key, and MATH RL rows with the math
reward in both GRPO backends (docs/sweeps-design.md, issue 22): validation, the union's rows and kinds, each row's
reward under every reward mode (TRL and verl alike), the procedural MATH-format set, and what a dry run plans when a
``train`` value is added."""

from __future__ import annotations

import copy

import pytest

from rlscaling import study as rs
from rlscaling.data.prepare import prepare_dataset
from rlscaling.io import write_jsonl
from rlscaling.rewards import compute_score, make_reward_fn, score
from rlscaling.tasks import math as math_task
from rlscaling.training.run import family_reward, rewards_by_family, rl_rows
from rlscaling.training.verl_data import verl_rows
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj
from rlscaling.workflow import plan as rp
from rlscaling.workflow.jobs import _key_paths
from test_sweeps import KL, MATH_SET, MICRO, REPORT, TRAIN, mark_done, micro, planned, variant_evals

REWARD_MODES = ("strict", "flexible", "custom_flexible", "seed_strict", "seed_custom_flexible")
"""Every GRPO reward mode the schema offers (``grpo.reward_modes``): all of the GSM8K family."""
UNION = "train=gsm8k+math/"
RUN = dict(model="micro-b", seed=1, budget="b2")


def with_sets(sets: dict, *sweeps: dict, train: str | None = None) -> dict:
    """The micro config with ``data.rl_train_sets = sets`` (and ``grpo.train``), validated."""
    cfg = rc.load_config(MICRO, validate=False)
    cfg["data"]["rl_train_sets"] = copy.deepcopy(sets)
    cfg["grpo"]["sweeps"] = copy.deepcopy(list(sweeps))
    if train is not None:
        cfg["grpo"]["train"] = train
    return rc.validate_config(cfg)


# ---- validation


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            {"key": "train", "values": ["math", "mathh"]},
            r"grpo.sweeps\[0\].values\[1\]: 'mathh' names no RL training set \['mathh'\]; the sets are gsm8k, math",
        ),
        ({"key": "train", "values": ["gsm8k+nope"]}, r"grpo.sweeps\[0\].values\[0\]: .*\['nope'\]"),
        ({"key": "train", "values": ["math+math"]}, r"grpo.sweeps\[0\].values\[0\]: 'math\+math' joins a set twice"),
        ({"key": "train", "values": ["Math"]}, r"grpo.sweeps\[0\].values\[0\]: 'Math' is not a valid grpo.train"),
        ({"key": "train", "values": [3]}, r"grpo.sweeps\[0\].values\[0\]: 3 is not a valid grpo.train"),
        ({"key": "train", "values": ["math", "math"]}, r"grpo.sweeps\[0\].values: 'math' appears twice"),
    ],
)
def test_a_bad_train_sweep_names_its_value_and_the_known_sets(sweep, message):
    with pytest.raises(rs.ConfigError, match=message):
        with_sets({"math": MATH_SET}, sweep)


def test_a_variant_whose_set_is_too_small_for_its_steps_is_named():
    # micro: 2 steps x 2 prompts per step need 4 prompts; the set holds 3 (and the reference's 32 are not counted)
    small = {**MATH_SET, "n": 3}
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[0\].values: train=math .*3 prompts"):
        with_sets({"math": small}, {"key": "train", "values": ["math"]})
    assert with_sets({"math": small}, {"key": "train", "values": ["gsm8k+math"]})  # 35 prompts: fits


def test_the_reference_set_is_one_name_no_other_set_takes():
    with pytest.raises(rs.ConfigError, match=r"data.rl_train_sets.gsm8k: 'gsm8k' names the reference set"):
        with_sets({"gsm8k": MATH_SET})
    with pytest.raises(rs.ConfigError, match=r"grpo.train: 'gsm8k\+math' joins sets"):
        with_sets({"math": MATH_SET}, train="gsm8k+math")
    with pytest.raises(rs.ConfigError, match=r"data.rl_train_sets"):
        with_sets({"Math": MATH_SET})  # a set's name is a dataset name: lower-case letters, digits, _


def test_a_sets_kind_must_suit_its_source_and_instruction():
    with pytest.raises(rs.ConfigError, match=r"data.rl_train_sets.math.kind: .* writes MATH-format records"):
        with_sets({"math": {**MATH_SET, "kind": "gsm8k"}})
    with pytest.raises(rs.ConfigError, match=r"data.rl_train_sets.math.instruction: only GSM8K sets"):
        with_sets({"math": {**MATH_SET, "instruction": True}})


def test_grpo_train_renames_the_reference_set():
    cfg = with_sets({"math": MATH_SET}, {"key": "train", "values": ["chains+math"]}, train="chains")
    assert rs.reference_train(cfg) == "chains" and rs.train_dataset(cfg, "chains") == "rl_train"
    assert rp.dataset_names(cfg)[:2] == ["rl_train", "rl_train_math"]


# ---- runs, datasets, job settings


def test_a_train_sweep_adds_its_runs_datasets_and_settings_and_leaves_the_rest_unchanged():
    plain, swept = micro(), micro(KL, TRAIN)
    assert [r for r in rs.rl_runs(swept) if r.variant.startswith("train=")] == [
        rs.RLRun(**RUN, reward="custom_flexible", variant=UNION)
    ]
    assert rp.dataset_names(swept) == ["rl_train", "rl_train_math", *rp.dataset_names(plain)[1:]]
    for run in rs.rl_runs(plain):  # the reference runs: settings (so nothing reruns) and paths unchanged
        wc = run._asdict()
        assert rj.job_settings_json(swept, "grpo", **wc) == rj.job_settings_json(plain, "grpo", **wc)
    for name in rp.dataset_names(plain):
        assert rj.job_settings_json(swept, "prepare_data", dataset=name) == rj.job_settings_json(
            plain, "prepare_data", dataset=name
        )
    ref = rj.job_config(swept, "grpo", **RUN, reward="custom_flexible", variant="")
    var = rj.job_config(swept, "grpo", **RUN, reward="custom_flexible", variant=UNION)
    assert var["grpo"] == {**ref["grpo"], "train": "gsm8k+math"} and var["seed"] == ref["seed"]  # paired
    assert var["data"] == {
        "rl_train_sets": {
            "gsm8k": ref["data"]["rl_train"],
            "math": {"source": MATH_SET["source"], "instruction": False, "kind": "math"},
        }
    }
    assert rs.path(swept, "grpo", **RUN, reward="custom_flexible", variant=UNION).endswith(
        "/b2/train=gsm8k+math/custom_flexible"
    )
    assert rj.job_config(swept, "prepare_data", dataset="rl_train_math")["data"]["rl_train_sets"]["math"]["n"] == 16


def test_a_train_value_naming_the_reference_set_is_the_reference_run():
    same = micro({**TRAIN, "values": ["gsm8k", "gsm8k+math"]})
    assert rs.rl_runs(same) == rs.rl_runs(micro(TRAIN))
    assert rs.run_train(same, "") == ["gsm8k"] and rs.run_train(same, UNION) == ["gsm8k", "math"]


def test_a_union_reads_each_sets_prepared_rows_in_order_with_their_family_prompt_and_reward(tmp_path):
    cfg = micro(TRAIN)
    files = []
    for dataset in ("rl_train", "rl_train_math"):
        files.append(tmp_path / f"{dataset}.jsonl")
        write_jsonl(files[-1], prepare_dataset(rj.job_config(cfg, "prepare_data", dataset=dataset), dataset))
    settings = rj.job_config(cfg, "grpo", **RUN, reward="custom_flexible", variant=UNION)
    rows = rl_rows(settings, [str(f) for f in files])
    assert [r["kind"] for r in rows] == ["gsm8k"] * 32 + ["math"] * 16
    gsm8k, math = rows[0], rows[32]
    assert gsm8k["reward_mode"] == "custom_flexible" and "data_source" not in gsm8k
    assert math["reward_mode"] == "math_verify" and math["data_source"] == "math"
    assert math["prompt"].startswith("Problem: What is ") and math_task.MATH_INSTRUCTION in math["prompt"]
    assert gsm8k["prompt"].startswith("Question: What is ")
    assert rewards_by_family(rows) == {"gsm8k": "custom_flexible", "math": "math_verify"}
    # the reference run reads its one file as before: the GSM8K rows, its reward mode
    reference = rl_rows(rj.job_config(cfg, "grpo", **RUN, reward="strict", variant=""), str(files[0]))
    assert [r["prompt"] for r in reference] == [r["prompt"] for r in rows[:32]]
    assert {r["reward_mode"] for r in reference} == {"strict"}
    with pytest.raises(ValueError, match="1 training files"):
        rl_rows(settings, [str(files[0])])


def test_a_job_reads_a_list_of_training_files_after_train():
    argv = ["model=m", "train=results/data/rl_train.jsonl", "results/data/rl_train_math.jsonl", "out=g/kl_coef=0.1/s"]
    assert _key_paths(argv) == {
        "model": "m",
        "train": ["results/data/rl_train.jsonl", "results/data/rl_train_math.jsonl"],
        "out": "g/kl_coef=0.1/s",
    }
    assert _key_paths(["train=a", "results/grpo/x/kl_coef=0.1/y"])["train"] == ["a", "results/grpo/x/kl_coef=0.1/y"]
    with pytest.raises(SystemExit, match="expected key=path"):
        _key_paths(["results/data/rl_train.jsonl"])


# ---- rewards per row's family, TRL and verl alike

BOXED = "3 + 4 = 7, so the answer is $\\boxed{7}$."
HASHES = "3 + 4 = 7\n#### 7"


@pytest.mark.parametrize("mode", REWARD_MODES)
def test_a_math_row_is_scored_by_the_math_reward_and_a_gsm8k_row_by_the_runs_mode(mode):
    rows = [
        {
            "prompt": "p",
            "answer": "7",
            "kind": "math",
            "reward_mode": family_reward("math", mode),
            "data_source": "math",
        },
        {"prompt": "q", "answer": "7", "kind": "gsm8k", "reward_mode": family_reward("gsm8k", mode)},
    ]
    assert family_reward("math", mode) == "math_verify" and family_reward("gsm8k", mode) == mode
    fn = make_reward_fn(mode)
    trl = fn(
        completions=[BOXED, BOXED, HASHES], answer=["7", "7", "7"], reward_mode=[rows[0]["reward_mode"]] * 2 + [mode]
    )
    assert trl[0] == trl[1] == 1.0  # the boxed 7 is right on a math row, whatever the run's GSM8K mode
    assert trl[2] == score(mode, HASHES, "7") == 1.0  # a GSM8K row: the run's own mode, as before
    verl = verl_rows(rows, "procedural:chain_sum", mode)
    assert [r["data_source"] for r in verl] == ["math", "procedural:chain_sum"]
    assert [r["extra_info"]["reward_mode"] for r in verl] == ["math_verify", mode]
    got = [
        compute_score(r["data_source"], c, r["reward_model"]["ground_truth"], r["extra_info"])
        for r, c in zip(verl, (BOXED, HASHES))
    ]
    assert got == [trl[0], trl[2]]


def test_the_trl_dataset_keeps_each_rows_reward_for_the_reward_function():
    from rlscaling.training.trl_backend import tokenize_rows

    from tiny_models import make_char_tokenizer

    rows = [{"prompt": "Problem: 3+4?", "answer": "7", "kind": "math", "reward_mode": "math_verify"}]
    rows.append({"prompt": "Question: 3+4?", "answer": "7", "kind": "gsm8k", "reward_mode": "strict"})
    kept, _ = tokenize_rows(rows, make_char_tokenizer(), max_prompt_tokens=40)
    assert [r["reward_mode"] for r in kept] == ["math_verify", "strict"] and "kind" not in kept[0]
    columns = {k: [r[k] for r in kept] for k in ("answer", "reward_mode")}
    assert make_reward_fn("strict")(completions=[BOXED, BOXED], **columns) == [1.0, 0.0]


def test_the_gsm8k_only_scorer_would_have_scored_the_boxed_answer_wrong():
    """Why the per-row reward matters: the strict GSM8K scorer gives the right boxed answer 0."""
    assert score("strict", BOXED, "7") == 0.0
    assert make_reward_fn("strict")(completions=[BOXED], answer=["7"]) == [0.0]  # no reward_mode column: the mode


# ---- the procedural MATH-format set


def test_procedural_math_format_records_are_math_items_whose_solution_scores_one():
    cfg = micro(TRAIN)
    rows = prepare_dataset(rj.job_config(cfg, "prepare_data", dataset="rl_train_math"), "rl_train_math")
    plain = prepare_dataset(
        {
            "seed": 7,
            "data": {
                "rl_train": {
                    **MATH_SET,
                    "source": MATH_SET["source"].replace("&format=math", ""),
                    "kind": "gsm8k",
                    "split": "train",
                }
            },
        },
        "rl_train",
    )
    assert len(rows) == 16 and [r["question"] for r in rows] == [r["question"] for r in plain]  # same problems
    for row in rows:
        assert math_task.check_answer(row) == row
        assert (
            row["solution"].endswith(f"The answer is $\\boxed{{{row['answer']}}}$.") and "####" not in row["solution"]
        )
        assert score("math_verify", row["solution"], row["answer"]) == 1.0
    with pytest.raises(Exception, match="unknown format 'latex'"):
        prepare_dataset(
            {
                "seed": 7,
                "data": {
                    "rl_train": {**MATH_SET, "source": MATH_SET["source"].replace("math", "latex"), "split": "train"}
                },
            },
            "rl_train",
        )


# ---- the DAG


def test_dry_run_lists_the_train_variants_jobs_and_its_dataset(tmp_path):
    cfg = micro(KL, TRAIN)
    assert planned(tmp_path / "wd", cfg) == rp.expected_job_counts(cfg)


def test_adding_a_train_value_plans_only_its_data_runs_and_evaluations(tmp_path):
    workdir = tmp_path / "wd"
    mark_done(workdir, micro(KL))
    # its set's preparation, its run and evaluations, and the aggregate (every evaluation is its input) with the
    # tables and figures after it
    assert planned(workdir, micro(KL, TRAIN)) == {
        "prepare_data": 1,
        "grpo": 1,
        "evaluate_endpoint": 1,
        "evaluate_intermediate": 1,
        **REPORT,
    }
    new = set(variant_evals(micro(KL, TRAIN))) - set(variant_evals(micro(KL)))
    assert new and all("/train=gsm8k+math/" in p for p in new)
