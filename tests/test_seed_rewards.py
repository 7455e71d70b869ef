"""The seed's own GRPO rewards (``seed_custom_flexible``, ``seed_strict``) in both backends: TRL's reward function and
verl's ``compute_score`` (loaded from its file, as verl loads it) give the seed's string-match answers
(seed_recipe.md (d) "Reward functions") where the project's value-comparing modes differ, against the seed's
comma-free training ground truth the RL rows carry."""

from __future__ import annotations

import importlib.util

import pytest

from rlscaling import rewards
from rlscaling.data.sources import gsm8k_row_to_record
from rlscaling.io import write_jsonl
from rlscaling.training import verl_data
from rlscaling.training.common import GRPOSettings
from rlscaling.training.run import rl_rows

SEED_MODES = ("seed_custom_flexible", "seed_strict")
PAD = "Let me check the arithmetic once more. " * 9  # 351 characters of text without a digit
assert len(PAD) > 300 and not any(c.isdigit() for c in PAD)

# (response, ground truth) -> expected reward per mode; every row is a difference between the seed's rewards and
# the project's custom_flexible, or between the two seed rewards.
CASES = [
    # a sentence-final period after the marker: both seed regexes take "18." != "18"; the project reads 18
    ("3 + 15 = 18\n#### 18.", "18", {"seed_custom_flexible": 0.0, "seed_strict": 0.0, "custom_flexible": 1.0}),
    # trailing zeros: "18.00" is not the string "18"
    ("#### 18.00", "18", {"seed_custom_flexible": 0.0, "seed_strict": 0.0, "custom_flexible": 1.0}),
    # a comma answer against the comma-free RL truth: strict deletes commas, custom_flexible keeps them
    (
        "2000 + 125 = 2125\n#### 2,125",
        "2125",
        {"seed_custom_flexible": 0.0, "seed_strict": 1.0, "custom_flexible": 1.0},
    ),
    # the seed's 300-character window: the marker lies further back than that, so strict finds nothing ...
    ("#### 18\n" + PAD, "18", {"seed_custom_flexible": 1.0, "seed_strict": 0.0, "custom_flexible": 1.0}),
    # ... and without a marker the only number lies outside the window, so flexible finds nothing either
    ("I think it is 18 " + PAD, "18", {"seed_custom_flexible": 0.0, "seed_strict": 0.0, "custom_flexible": 1.0}),
    # custom_flexible cuts 10 characters after the first marker: a 6-character answer loses its last digit
    ("#### 123456", "123456", {"seed_custom_flexible": 0.0, "seed_strict": 1.0, "custom_flexible": 1.0}),
    # the cut keeps the first answer when the model goes on writing (300-character window of the cut text); strict
    # reads the last marker
    (PAD + "#### 18\nQuestion: 5 + 7?\n#### 12", "18", {"seed_custom_flexible": 1.0, "seed_strict": 0.0}),
]


def _verl_compute_score():
    """``compute_score`` from the file verl is pointed at, imported the way verl's loader does it."""
    spec = importlib.util.spec_from_file_location("custom_module", rewards.verl_entry_path())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_score


def test_the_seed_rewards_are_grpo_reward_modes():
    from rlscaling.tasks import reward_modes

    assert set(SEED_MODES) <= set(reward_modes())
    for mode in SEED_MODES:
        section = {"backend": "trl", "reward_mode": mode, "rollouts_per_prompt": 2, "prompts_per_step": 1}
        section.update(steps=1, lr=1e-6, kl_coef=0.0, kl_estimator="k3")
        assert GRPOSettings.from_config(section, 0).reward_mode == mode
    with pytest.raises(ValueError, match=r"grpo\.reward_mode.*seed_flexible"):  # a scorer, never a seed reward
        GRPOSettings.from_config({**section, "reward_mode": "seed_flexible"}, 0)


@pytest.mark.parametrize("response,truth,expected", CASES)
def test_trl_and_verl_give_the_seeds_rewards(response, truth, expected):
    compute_score = _verl_compute_score()
    for mode, want in expected.items():
        trl = rewards.make_reward_fn(mode)(prompts=["q"], completions=[response], answer=[truth])
        chat = rewards.make_reward_fn(mode)(completions=[[{"role": "assistant", "content": response}]], answer=[truth])
        verl = compute_score("custom/gsm8k", response, truth, {"reward_mode": mode, "split": "train", "index": 0})
        assert trl == chat == [want] and verl == want, (mode, response[-40:])


def _rl_items(tmp_path, answers):
    path = tmp_path / "rl.jsonl"
    rows = [{"question": f"Q{i}?", "answer": f"2 + 3 = 5\n#### {a}"} for i, a in enumerate(answers)]
    write_jsonl(path, [gsm8k_row_to_record(r, i, "train") for i, r in enumerate(rows)])
    return path


@pytest.mark.parametrize("style", ["seed", "consistent"])
def test_a_seed_reward_trains_against_the_seeds_comma_free_truth(tmp_path, style):
    """The RL rows carry the seed's ground-truth string (commas removed, otherwise verbatim) for a seed reward under
    either prompt style; the project's modes keep the canonical number under the consistent style."""
    path = _rl_items(tmp_path, ["2,125", "7.50"])
    cfg = {"seed": 0, "data": {"rl_train": {"source": "hf:gsm8k"}}, "prompts": {"style": style}}
    seed_rows = rl_rows({**cfg, "grpo": {"reward_mode": "seed_custom_flexible"}}, path)
    assert [r["answer"] for r in seed_rows] == ["2125", "7.50"]
    project_rows = rl_rows({**cfg, "grpo": {"reward_mode": "custom_flexible"}}, path)
    assert [r["answer"] for r in project_rows] == (["2125", "7.50"] if style == "seed" else ["2125", "7.5"])
    # through verl's parquet layout: the row's own ground truth and reward mode give the seed's reward
    compute_score = _verl_compute_score()
    for mode, want in (("seed_custom_flexible", 0.0), ("seed_strict", 1.0), ("custom_flexible", 1.0)):
        rows = rl_rows({**cfg, "grpo": {"reward_mode": mode}}, path)
        [row, _] = verl_data.verl_rows(rows, "gsm8k", mode)
        got = compute_score(row["data_source"], "#### 2,125", row["reward_model"]["ground_truth"], row["extra_info"])
        assert got == want, mode
