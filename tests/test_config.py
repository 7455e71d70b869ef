"""Config validation: a wrong key or type stops the run with the key named."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from rlscaling import study as rs
from rlscaling.config_schema import SCHEMA
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj
from rlscaling.workflow import plan as rp

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [ROOT / "config.yaml", ROOT / "tests" / "configs" / "micro.yaml"] + sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def base():
    return rc.load_config(ROOT / "config.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    rc.load_config(path)


def _err(cfg):
    with pytest.raises(Exception) as exc:
        rc.validate_config(cfg)
    return str(exc.value) + repr(getattr(exc.value, "args", ""))


def test_unknown_key_is_named(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["klcoef"] = 0.1
    assert "klcoef" in _err(cfg)


def test_wrong_type_is_named(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["rollouts_per_prompt"] = "four"
    msg = _err(cfg)
    assert "rollouts_per_prompt" in msg and "four" in msg


def test_yaml_float_without_exponent_sign_is_caught():
    # PyYAML reads 2.0e5 as a string: the schema must reject it rather than let a job crash later
    cfg = yaml.safe_load("a: 2.0e5")
    assert cfg["a"] == "2.0e5"


def test_cross_key_errors(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["save_steps"] = [cfg["grpo"]["steps"] + 1]
    assert "save_steps" in _err(cfg)
    cfg = copy.deepcopy(base)
    cfg["evaluate"]["pass_at_k"]["k"] = [cfg["evaluate"]["pass_at_k"]["n"] + 1]
    assert "pass_at_k.k" in _err(cfg)
    cfg = copy.deepcopy(base)
    cfg["benchmarks"]["gsm8k"]["scorers"] = ["math_verify"]
    assert "benchmarks.gsm8k.scorers" in _err(cfg)


def test_checkpoints_and_jobs_follow_config(base):
    cfg = copy.deepcopy(base)
    cfg["grpo"]["save_steps"] = [4, 2, 4]
    cfg["grpo"]["steps"] = 5
    assert rp.checkpoint_steps(cfg, next(iter(cfg["models"]))) == [2, 4, 5]  # the last step is always saved
    del cfg["grpo"]["save_steps"]
    cfg["grpo"]["save_every"] = 2
    assert rp.checkpoint_steps(cfg, next(iter(cfg["models"]))) == [2, 4, 5]
    g = cfg["benchmarks"]["gsm8k"]
    # the embedded study: tiny-s and tiny-m have 2 seeds, tiny-l 1; 4 budgets; RL from 1 budget in 2 reward modes
    n_seeds = sum(len(spec.get("seeds") or cfg["pretrain"]["seeds"]) for spec in cfg["models"].values())
    n_cells = n_seeds * len(cfg["pretrain"]["budgets"])
    n_runs = n_seeds * len(cfg["grpo"]["budgets"]) * len(cfg["grpo"]["reward_modes"])
    assert (n_seeds, n_cells, n_runs) == (5, 20, 10)
    per_run = len(g["shots"]) + 2 * len(g["shots_intermediate"])  # final: all shots; steps 2 and 4: intermediate
    assert len(rp.eval_jobs(cfg)) == n_cells * len(g["shots"]) + n_runs * per_run
    assert len(rs.cells(cfg)) == n_cells and len(rs.rl_runs(cfg)) == n_runs


def test_seeds_reward_modes_and_rl_budgets_are_dimensions(base):
    cfg = copy.deepcopy(base)
    assert rs.seeds(cfg, "tiny-l") == [1] and rs.seeds(cfg, "tiny-m") == cfg["pretrain"]["seeds"]
    runs = rs.rl_runs(cfg)
    assert {r.reward for r in runs} == set(cfg["grpo"]["reward_modes"])
    assert {r.budget for r in runs} == set(cfg["grpo"]["budgets"])
    # paired runs: both reward modes of a cell share its GRPO seed; a trunk's seed does not depend on the budget
    settings = [
        rj.job_config(cfg, "grpo", model="tiny-m", seed="2", budget="2M", reward=m)
        for m in ("strict", "custom_flexible")
    ]
    assert settings[0]["seed"] == settings[1]["seed"] and settings[0]["grpo"]["reward_mode"] == "strict"
    trunk = rj.job_config(cfg, "pretrain_trunk", model="tiny-m", seed="2")
    branch = rj.job_config(cfg, "pretrain", model="tiny-m", seed="2", budget="1M")
    assert trunk["seed"] == branch["seed"] != rj.job_config(cfg, "pretrain_trunk", model="tiny-m", seed="1")["seed"]
    cfg["grpo"]["budgets"] = ["3M"]
    assert "grpo.budgets: ['3M'] are not pre-training budgets" in _err(cfg)


# ---------------------------------------------------------------------------------------- one validation layer


@pytest.mark.parametrize(
    "where,value",
    [
        (("grpo", "lr"), float("nan")),
        (("grpo", "kl_coef"), float("inf")),
        (("pretrain", "budgets", "short"), float("nan")),
    ],
)
def test_non_finite_numbers_are_refused_with_their_key(base, where, value):
    cfg = copy.deepcopy(base)
    node = cfg
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    with pytest.raises(rs.ConfigError, match=re.escape(".".join(where)) + ": (nan|inf) is not a finite number"):
        rc.validate_config(cfg)


def test_save_steps_with_save_every_is_refused_before_any_job(base):
    cfg = copy.deepcopy(base)
    model = next(iter(cfg["models"]))
    cfg["models"][model]["grpo"] = {"save_every": 5}  # the global grpo.save_steps is set too
    with pytest.raises(rs.ConfigError, match=f"either save_steps or save_every.*model '{model}'"):
        rc.validate_config(cfg)


def test_cross_key_conditions_that_jobs_would_refuse(base):
    cfg = copy.deepcopy(base)
    cfg["data"]["rl_train"]["n"] = cfg["grpo"]["prompts_per_step"] - 1
    with pytest.raises(rs.ConfigError, match="data.rl_train.n=31: only 31 usable training prompts"):
        rc.validate_config(cfg)
    cfg = copy.deepcopy(base)
    cfg["val_loss"]["stride"] = cfg["val_loss"]["seq_len"] + 1
    with pytest.raises(rs.ConfigError, match="val_loss.stride=257 exceeds val_loss.seq_len=256"):
        rc.validate_config(cfg)
    cfg = copy.deepcopy(base)
    cfg["evaluate"]["pass_at_k"]["scorer"] = "math_verify"
    with pytest.raises(rs.ConfigError, match="evaluate.pass_at_k.scorer"):
        rc.validate_config(cfg)


def test_defaults_come_from_the_schema(base):
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, key in [("grpo", "loss_type"), ("evaluate", "batch_size"), ("fit", "ci")]:
        raw.setdefault(section, {}).pop(key, None)
    raw.pop("plots", None)
    cfg = rc.validate_config(raw)
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert cfg["grpo"]["loss_type"] == schema["grpo"]["properties"]["loss_type"]["default"]
    assert cfg["evaluate"]["batch_size"] == schema["evaluate"]["properties"]["batch_size"]["default"]
    assert cfg["fit"]["ci"] == schema["fit"]["properties"]["ci"]["default"]
    assert cfg["plots"]["dpi"] == schema["plots"]["properties"]["dpi"]["default"]
    assert cfg["environments"]["verl"] == {"conda": "envs/verl.yaml", "python": None}


def test_cell_seed_depends_on_the_cell_only(base):
    cfg = copy.deepcopy(base)
    before = {c: rs.cell_seed(cfg, *c) for c in rs.cells(cfg)}
    cfg["models"] = {"added": copy.deepcopy(cfg["models"]["tiny-s"]), **cfg["models"]}
    after = {c: rs.cell_seed(cfg, *c) for c in rs.cells(cfg)}
    assert all(after[c] == s for c, s in before.items())
    assert len(set(after.values())) == len(after)  # distinct cells, distinct seeds
    cfg["seed"] += 1
    assert all(rs.cell_seed(cfg, *c) != s for c, s in before.items())


def test_each_job_sees_only_the_keys_it_reads(base):
    model, seed, budget, reward = rs.rl_runs(base)[0][:4]  # a reference run (a sweep variant adds a fifth field)
    grpo = rj.job_config(base, "grpo", model=model, seed=seed, budget=budget, reward=reward)
    assert set(grpo) == {"seed", "prompt_seed", "grpo", "models", "data"} and "evaluate" not in grpo
    assert grpo["seed"] == rs.cell_seed(base, model, seed, budget)
    ev = rj.job_config(base, "evaluate_endpoint", checkpoint=rp.checkpoint_id(model, seed, budget, "base", 0))
    assert "grpo" not in ev and "models" not in ev and "pass_at_k" in ev["evaluate"]
    assert "pass_at_k" not in rj.job_config(base, "evaluate_intermediate", checkpoint="x")["evaluate"]
    assert rj.job_config(base, "plots") == {
        "plots": base["plots"],
        "grpo": {"reward_modes": base["grpo"]["reward_modes"]},
    }
    edited = copy.deepcopy(base)
    edited["grpo"]["lr"] *= 2
    same = ["prepare_data", "pretrain", "evaluate_endpoint", "val_loss", "fit", "plots"]
    wc = {"dataset": "rl_train", "model": model, "seed": seed, "budget": budget, "reward": reward, "checkpoint": "x"}
    for rule in same:
        assert rj.job_settings_json(base, rule, **wc) == rj.job_settings_json(edited, rule, **wc), rule
    assert rj.job_settings_json(base, "grpo", **wc) != rj.job_settings_json(edited, "grpo", **wc)


def test_a_vocabulary_too_small_for_the_corpus_is_refused(base):
    cfg = copy.deepcopy(base)
    cfg["data"]["pretrain_corpus"]["n_documents"] = 200
    rc.check_tokenizer_vocabulary(cfg)  # 128 entries cover the corpus
    cfg["tokenizer"]["vocab_size"] = 32
    with pytest.raises(rs.ConfigError, match=r"tokenizer.vocab_size=32 is too small .* needs at least \d+ entries"):
        rc.check_tokenizer_vocabulary(cfg)


def test_the_rl_seed_changes_only_the_grpo_jobs(base):
    """``grpo.seed`` re-seeds GRPO runs (paired across reward modes as before) and nothing upstream."""
    rules = {"pretrain": ["model", "seed", "budget"], "pretrain_trunk": ["model", "seed"], "evaluate_endpoint": []}
    run = rs.rl_runs(base)[0]
    wc = {"model": run.model, "seed": run.seed, "budget": run.budget, "reward": run.reward, "checkpoint": "x"}
    assert base["grpo"]["seed"] is None
    edited = copy.deepcopy(base)
    edited["grpo"]["seed"] = 7
    for rule in rules:
        assert rj.job_config(edited, rule, **wc) == rj.job_config(base, rule, **wc), rule
    before, after = rj.job_config(base, "grpo", **wc), rj.job_config(edited, "grpo", **wc)
    assert after["seed"] != before["seed"] and after["prompt_seed"] == 7 != before["prompt_seed"]
    assert after["seed"] == rs.cell_seed({**base, "seed": 7}, run.model, run.seed, run.budget)
    assert "seed" not in after["grpo"] and after["grpo"] == before["grpo"]
    other = rj.job_config(edited, "grpo", **{**wc, "reward": rs.reward_modes(base)[-1]})
    assert other["seed"] == after["seed"]  # reward modes stay paired


# ---- the reward-mode ablation as a sweep (rlscaling.workflow.reward_sweep)


def _raw(path=ROOT / "config.yaml") -> dict:
    return yaml.safe_load(Path(path).read_text())


def _sweep_spelling(raw: dict, reference: str | None, values: list, **limits) -> dict:
    """``raw`` with its ``grpo.reward_modes`` rewritten as ``grpo.reward_mode`` (unless None) + a reward_mode sweep."""
    cfg = copy.deepcopy(raw)
    del cfg["grpo"]["reward_modes"]
    if reference is not None:
        cfg["grpo"]["reward_mode"] = reference
    cfg["grpo"]["sweeps"] = [*cfg["grpo"].get("sweeps", []), {"key": "reward_mode", "values": values, **limits}]
    return cfg


@pytest.mark.parametrize(
    "path", [ROOT / "config.yaml", ROOT / "tests" / "configs" / "micro.yaml"], ids=lambda p: p.name
)
def test_reward_mode_sweep_validates_to_the_reward_modes_config(path):
    """reward_mode a + sweep [b] is reward_modes [a, b]: the same validated config, so the same runs, paths, seeds, job
    settings and plan; the reference value listed in the sweep, or the reference taken from the sweep's first value,
    change nothing."""
    raw = _raw(path)
    first, *others = raw["grpo"]["reward_modes"]
    want = rc.validate_config(copy.deepcopy(raw))
    assert "reward_mode" not in want["grpo"] and want["grpo"]["reward_modes"] == [first, *others]
    for cfg in (
        _sweep_spelling(raw, first, others),
        _sweep_spelling(raw, first, [*others, first]),  # the reference's own value is its reference run
        _sweep_spelling(raw, None, [first, *others]),  # no grpo.reward_mode: the sweep's first value
    ):
        got = rc.validate_config(cfg)
        assert got == want
        assert [r for r in rs.rl_runs(got)] == rs.rl_runs(want)
        assert all(r.variant == rs.REFERENCE for r in rs.rl_runs(got))  # no reward_mode=<...>/ path segment
        assert rp.expected_job_counts(got) == rp.expected_job_counts(want)
        run = rs.rl_runs(got)[-1]
        assert rj.job_settings_json(got, "grpo", **run._asdict()) == rj.job_settings_json(want, "grpo", **run._asdict())


def test_reward_mode_sweep_beside_other_sweeps_keeps_them_in_order():
    raw = _raw()
    first, *others = raw["grpo"]["reward_modes"]
    kl = {"key": "kl_coef", "values": [0.5], "models": ["tiny-s"], "budgets": None}
    old = copy.deepcopy(raw)
    old["grpo"]["sweeps"] = [kl]
    new = _sweep_spelling(raw, first, others)
    new["grpo"]["sweeps"].insert(0, kl)
    got, want = rc.validate_config(new), rc.validate_config(old)
    assert got == want and got["grpo"]["sweeps"] == [kl]
    assert {r.variant for r in rs.rl_runs(got)} == {rs.REFERENCE, "kl_coef=0.5/"}


def test_old_reward_modes_configs_are_left_as_they_are():
    """normalise_reward_modes changes nothing in a config written with reward_modes (the shipped ones): its outputs
    and DAG stay what they were."""
    from rlscaling.workflow.reward_sweep import normalise_reward_modes

    for path in CONFIGS:
        raw = _raw(path)
        if "reward_modes" not in raw["grpo"]:
            continue
        cfg = rc.apply_schema(raw)
        before = copy.deepcopy(cfg)
        assert normalise_reward_modes(cfg) == before, path.name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (  # both spellings: reward_modes and a reward_mode sweep
            lambda c: c["grpo"].update(sweeps=[{"key": "reward_mode", "values": ["flexible"]}]),
            r"grpo.sweeps\[0\].key: a reward_mode sweep and grpo.reward_modes \(\['custom_flexible', 'strict'\]\) both "
            r"name the reward modes; write one: grpo.reward_mode: custom_flexible with sweeps \{key: reward_mode, "
            r"values: \['strict', 'flexible'\]\}",
        ),
        (  # both spellings: reward_modes and reward_mode
            lambda c: c["grpo"].update(reward_mode="strict"),
            r"grpo.reward_mode: grpo.reward_modes names the reward modes already .*write one spelling: "
            r"grpo.reward_mode: custom_flexible",
        ),
    ],
)
def test_both_reward_spellings_at_once_are_refused(edit, message):
    cfg = _raw()
    edit(cfg)
    with pytest.raises(rs.ConfigError, match=message):
        rc.validate_config(cfg)


@pytest.mark.parametrize(
    ("values", "limits", "message"),
    [
        (["strict"], {"models": ["tiny-s"]}, r"grpo.sweeps\[0\].models: a reward_mode sweep runs on every model and RL "
         r"budget .* remove models \(grpo.budgets limits the RL budgets of the whole study\)"),
        (["strict"], {"budgets": ["2M"]}, r"grpo.sweeps\[0\].budgets: a reward_mode sweep runs on every model"),
        (["strict", "exact"], {}, r"grpo.sweeps\[0\].values\[1\]: 'exact' is not a GRPO reward; choose from \["),
        (["strict", "strict"], {}, r"grpo.sweeps\[0\].values: 'strict' appears twice"),
    ],
)  # fmt: skip
def test_bad_reward_mode_sweeps_name_the_key(values, limits, message):
    cfg = _sweep_spelling(_raw(), "custom_flexible", values, **limits)
    with pytest.raises(rs.ConfigError, match=message):
        rc.validate_config(cfg)


def test_two_reward_mode_sweeps_or_no_reward_are_refused():
    cfg = _sweep_spelling(_raw(), "custom_flexible", ["strict"])
    cfg["grpo"]["sweeps"].append({"key": "reward_mode", "values": ["flexible"]})
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[1\].key: a second reward_mode sweep; write every reward "
                       r"mode in one \(grpo.sweeps\[0\].values\)"):  # fmt: skip
        rc.validate_config(cfg)
    cfg = _raw()
    del cfg["grpo"]["reward_modes"]
    with pytest.raises(rs.ConfigError, match=r"grpo.reward_mode: the GRPO reward is not set; write grpo.reward_mode:"):
        rc.validate_config(cfg)
