"""WSD pre-training: the LR schedule, trunk + annealed branches vs continuous WSD runs (tiny model, tens of steps)."""

from __future__ import annotations

import json

import pytest
import torch

from rlscaling.data.tokenizer import train_tokenizer
from rlscaling.models import pretrain_wsd as wsd
from rlscaling.models.pretrain import pretrain
from rlscaling.models.pretrain_wsd import Branch, pretrain_branch, pretrain_trunk, pretrain_wsd, wsd_lr_factor, wsd_plan

TEXTS = [
    f"Question: What is {a} + {b} - {c}?\nAnswer: {a} + {b} = {a + b}. {a + b} - {c} = {a + b - c}.\n#### {a + b - c}"
    for a, b, c in [(12, 7, 5), (3, 48, 60), (95, 5, 0), (1, 2, 3), (44, 56, 7)]
] * 20
ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "intermediate_size": 64,
}
SEQ, BATCH, LR = 32, 4, 1e-2  # one step = 128 tokens
# small: 77.4 blocks -> 77 blocks (2464 tokens), 20 steps (the last of 1 block), branch at round(0.75·77/4) = 14;
# large: 160 blocks (5120 tokens, > 1 epoch of the ~90 training blocks), 40 steps, branch at 30; warm-up round(4.0)
BUDGETS = {"small": 77.4 * SEQ, "large": 40.0 * BATCH * SEQ}
SETTINGS = dict(seq_len=SEQ, batch_size=BATCH, lr=LR, warmup_fraction=0.1, decay_fraction=0.25, seed=3)
SETTINGS.update(val_fraction=0.1, threads=1)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------- schedule


def test_wsd_lr_factor_exhaustive_small_schedules():
    for warmup in range(5):
        for decay_start in range(warmup, 7):
            for total in range(decay_start + 1, 10):
                f = [wsd_lr_factor(s, warmup, decay_start, total) for s in range(total + 1)]
                assert f[0] == (0.0 if warmup else 1.0) and f[warmup] == 1.0 and f[decay_start] == 1.0
                assert f[total] == 0.0 and f[total - 1] == 1 / (total - decay_start)
                assert f[:warmup] == [s / warmup for s in range(warmup)]
                assert f[warmup : decay_start + 1] == [1.0] * (decay_start + 1 - warmup)
                assert f[decay_start:] == [(total - s) / (total - decay_start) for s in range(decay_start, total + 1)]
                assert f[: decay_start + 1] == sorted(f[: decay_start + 1])  # non-decreasing, then
                assert f[decay_start:] == sorted(f[decay_start:], reverse=True)  # non-increasing
                assert all(0.0 <= x <= 1.0 for x in f)


@pytest.mark.parametrize("args", [(0, 3, 2, 5), (0, 0, 5, 5), (0, 0, 6, 5), (0, -1, 0, 5), (6, 1, 2, 5), (-1, 1, 2, 5)])
def test_wsd_lr_factor_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        wsd_lr_factor(*args)


def test_wsd_plan_step_arithmetic_and_errors():
    warmup, plan = wsd_plan(BUDGETS, SEQ, BATCH, 0.1, 0.25)
    assert warmup == 4
    assert plan == {"small": Branch(77.4 * SEQ, 77, 20, 14), "large": Branch(5120.0, 160, 40, 30)}
    assert wsd_plan({"small": BUDGETS["small"]}, SEQ, BATCH, 0.1, 0.25)[0] == 2  # round(0.1·20)
    assert wsd_plan({"small": BUDGETS["small"]}, SEQ, BATCH, 0.1, 0.25, warmup_tokens=5120)[0] == 4
    with pytest.raises(ValueError, match="budget 'small'.*before the end of warm-up at step 20"):
        wsd_plan(BUDGETS, SEQ, BATCH, 0.5, 0.25)  # small branches at step 14
    with pytest.raises(ValueError, match="budget 'tiny'.*leaves no decay step"):
        wsd_plan({"tiny": 20 * BATCH * SEQ}, SEQ, BATCH, 0.1, 0.001)  # round(0.999·20) = 20
    with pytest.raises(ValueError, match="budget 'x'.*less than one seq_len"):
        wsd_plan({"x": 10}, SEQ, BATCH, 0.1, 0.25)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="decay_fraction must be in \\(0, 1\\)"):
            wsd_plan(BUDGETS, SEQ, BATCH, 0.1, bad)


# ----------------------------------------------------------------------------------------------- trunk + branches


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A trunk, its two branches and the two continuous WSD runs, with the LR of every update (and the LR the
    optimizer is left at) of each call."""
    root = tmp_path_factory.mktemp("wsd")
    tok = root / "tok"
    train_tokenizer(TEXTS, 64, tok)
    lrs: dict[str, list[float]] = {}
    original = wsd._step

    def recording_step(model, batch, optimizer):
        lrs[current].append(optimizer.param_groups[0]["lr"])
        return original(model, batch, optimizer)

    out = {"root": root, "tok": tok, "lrs": lrs}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wsd, "_step", recording_step)
        current = "trunk"
        lrs[current] = []
        out["trunk"] = pretrain_trunk(TEXTS, tok, ARCH, BUDGETS, root / "trunk", **SETTINGS)
        for label, tokens in BUDGETS.items():
            current = label
            lrs[current] = []
            out[label] = pretrain_branch(
                root / "trunk", label, TEXTS, tok, ARCH, tokens, root / label, **SETTINGS, all_budgets=BUDGETS
            )
            current = f"continuous_{label}"
            lrs[current] = []
            out[current] = pretrain_wsd(TEXTS, tok, ARCH, tokens, root / current, **SETTINGS, warmup_tokens=5120)
    return out


def _state(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path)).state_dict()


@pytest.mark.parametrize("label", list(BUDGETS))
def test_branch_is_bit_identical_to_the_continuous_wsd_run(runs, label):
    branch, continuous = _state(runs["root"] / label), _state(runs["root"] / f"continuous_{label}")
    assert branch.keys() == continuous.keys()
    assert all(torch.equal(branch[k], continuous[k]) for k in branch)  # exact, not allclose
    same = {k: v for k, v in runs[label].items() if not k.endswith("wall_s")}
    assert same == {k: v for k, v in runs[f"continuous_{label}"].items() if k != "wall_s"}  # losses included
    assert runs["lrs"][label] == runs["lrs"][f"continuous_{label}"][runs[label]["branch_step"] :]


def test_trunk_layout_and_record(runs):
    trunk_dir = runs["root"] / "trunk"
    files = sorted(str(p.relative_to(trunk_dir)) for p in trunk_dir.rglob("*") if p.is_file())
    assert files == ["large/state.pt", "small/state.pt", "trunk.json"]
    assert not [p for p in runs["root"].iterdir() if p.name.startswith(".")]  # no temporary left behind
    trunk = json.loads((trunk_dir / "trunk.json").read_text())
    assert trunk == runs["trunk"]
    assert trunk["steps"] == 30 and trunk["tokens_trained"] == 30 * 128 and trunk["warmup_steps"] == 4
    n, h = trunk["n_params_non_embedding"], trunk["head_params"]
    from transformers import AutoTokenizer

    assert h == ARCH["hidden_size"] * len(AutoTokenizer.from_pretrained(str(runs["tok"])))  # the head: d_model x V
    assert trunk["c_pretrain_flops"] == 6.0 * (n + h) * 30 * 128
    assert trunk["seed"] == 3 and trunk["lr"] == LR and trunk["budgets"] == BUDGETS
    small, large = trunk["branches"]["small"], trunk["branches"]["large"]
    assert (small["branch_step"], small["branch_tokens"], small["steps"], small["decay_steps"]) == (14, 1792, 20, 6)
    assert (large["branch_step"], large["branch_tokens"], large["steps"], large["decay_steps"]) == (30, 3840, 40, 10)
    assert 0 < small["wall_s"] < large["wall_s"] <= trunk["wall_s"]
    state = torch.load(trunk_dir / "small" / "state.pt", weights_only=True)
    assert state["step"] == 14 and len(state["step_losses"]) == 14
    assert state["optimizer"]["state"][0]["step"].item() == 14.0  # AdamW's own step count


def test_lr_profiles_follow_wsd_lr_factor_and_end_at_zero(runs):
    lrs = runs["lrs"]
    assert lrs["trunk"] == [LR * wsd_lr_factor(s, 4, 30, 40) for s in range(30)]
    assert lrs["trunk"][:5] == [0.0, LR / 4, LR / 2, 3 * LR / 4, LR] and set(lrs["trunk"][4:]) == {LR}
    assert lrs["small"] == [LR * wsd_lr_factor(s, 4, 14, 20) for s in range(14, 20)]
    assert lrs["large"] == [LR * wsd_lr_factor(s, 4, 30, 40) for s in range(30, 40)]
    assert lrs["small"][0] == LR and lrs["small"][-1] == LR * (1 / 6) and wsd_lr_factor(20, 4, 14, 20) == 0.0
    assert lrs["continuous_large"] == lrs["trunk"] + lrs["large"]


def test_branch_lr_is_zero_after_its_last_step(tmp_path, runs):
    optimizers = []
    original = wsd._train_wsd

    def keep(model, optimizer, *args, **kwargs):
        optimizers.append(optimizer)
        return original(model, optimizer, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wsd, "_train_wsd", keep)
        args = (runs["root"] / "trunk", "small", TEXTS, runs["tok"], ARCH, BUDGETS["small"], tmp_path / "b")
        pretrain_branch(*args, **SETTINGS, all_budgets=BUDGETS)
    assert [g["lr"] for g in optimizers[0].param_groups] == [0.0, 0.0]
    assert all(s["step"].item() == 20.0 for s in optimizers[0].state.values())


def test_branch_pretrain_json_fields(runs, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cosine_settings = {k: v for k, v in SETTINGS.items() if k != "decay_fraction"}
    cosine = pretrain(TEXTS, runs["tok"], ARCH, 4 * SEQ, tmp_path / "c", **cosine_settings)
    small = runs["small"]
    assert set(cosine) <= set(small)
    assert small["tokens_budget"] == 77.4 * SEQ and small["tokens_trained"] == 77 * SEQ and small["steps"] == 20
    assert small["c_pretrain_flops"] == 6.0 * (small["n_params_non_embedding"] + small["head_params"]) * 77 * SEQ
    assert small["epochs"] == 77 / runs["trunk"]["n_train_blocks"]
    assert small["schedule"] == "wsd" and small["decay_fraction"] == 0.25 and small["branch_tokens"] == 14 * 128
    assert small["first_train_loss"] == runs["large"]["first_train_loss"] == runs["trunk"]["first_train_loss"]
    assert small["final_train_loss"] < 0.7 * small["first_train_loss"] and small["val_loss"] < small["first_train_loss"]
    assert small["trunk_wall_s"] == runs["trunk"]["branches"]["small"]["wall_s"]
    assert small["wall_s"] == pytest.approx(small["trunk_wall_s"] + small["branch_wall_s"])
    assert json.loads((runs["root"] / "small" / "pretrain.json").read_text()) == small
    model = AutoModelForCausalLM.from_pretrained(str(runs["root"] / "small"))
    tok = AutoTokenizer.from_pretrained(str(runs["root"] / "small"))
    assert model.config.eos_token_id == tok.eos_token_id and model.config.max_position_embeddings == SEQ


def test_trunk_and_branches_cost_fewer_steps_than_separate_runs(runs):
    trunk, branches = runs["trunk"], [runs[label] for label in BUDGETS]
    shared = trunk["steps"] + sum(b["steps"] - b["branch_step"] for b in branches)
    separate = sum(b["steps"] for b in branches)
    assert (shared, separate) == (30 + 6 + 10, 20 + 40)
    assert separate == sum(runs[f"continuous_{label}"]["steps"] for label in BUDGETS)


# ----------------------------------------------------------------------------------------------- errors


def test_trunk_rejects_early_branch_and_bad_decay_fraction(runs, tmp_path):
    args = (TEXTS, runs["tok"], ARCH, BUDGETS, tmp_path / "t")
    with pytest.raises(ValueError, match="budget 'small'.*before the end of warm-up"):
        pretrain_trunk(*args, **{**SETTINGS, "warmup_fraction": 0.5})
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="decay_fraction"):
            pretrain_trunk(*args, **{**SETTINGS, "decay_fraction": bad})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("change", "culprit"),
    [
        ({"seed": 4}, "seed=4"),
        ({"lr": 2e-2}, "lr=0.02"),
        ({"weight_decay": 0.0}, "weight_decay=0.0"),
        ({"all_budgets": {**BUDGETS, "huge": 1e4}}, "budgets="),
        ({"val_fraction": 0.2}, "train_blocks_sha256="),
        ({"tokens": 3000.0}, "tokens=3000.0 is not budget 'small'"),
    ],
)
def test_branch_rejects_settings_that_differ_from_the_trunk(runs, tmp_path, change, culprit):
    kwargs = {**SETTINGS, "all_budgets": BUDGETS, "tokens": BUDGETS["small"], **change}
    with pytest.raises(ValueError, match=culprit.replace("(", "\\(")):
        pretrain_branch(runs["root"] / "trunk", "small", TEXTS, runs["tok"], ARCH, out_dir=tmp_path / "b", **kwargs)
    assert not (tmp_path / "b").exists()
