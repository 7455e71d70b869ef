"""Hub base models: a budget's (model, revision) is cached once and pointed to, never copied; every revision
resolves to its own weights; N is taken from the config or computed from config.json.

The hub is never reached: a fake Hugging Face cache (the ``models--org--name/{refs,snapshots}`` layout) in a tmp
dir holds two revisions of one repository with different tiny models, and ``HF_HUB_OFFLINE=1``.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlscaling.models import hub
from rlscaling.models.hub import (
    HubModelError,
    fetch_hub_model,
    parse_budget,
    resolve_model_path,
)

from tiny_models import make_tiny_model_dir

HF_ID = "org/tiny-suite"
SHA_A = "a" * 40
SHA_B = "b" * 40
# revision name -> (commit, tiny-model architecture)
REVISIONS = {
    "stage1-step100-tokens1B": (SHA_A, {"hidden_size": 32, "num_hidden_layers": 2, "seed": 0}),
    "stage2-ingredient1-step50-tokens2B": (SHA_B, {"hidden_size": 48, "num_hidden_layers": 3, "seed": 1}),
}


def repo_folder(cache: Path, hf_id: str = HF_ID) -> Path:
    return cache / ("models--" + hf_id.replace("/", "--"))


def add_snapshot(cache: Path, revision: str, commit: str, arch: dict, hf_id: str = HF_ID) -> Path:
    """Write a tiny model as the cached snapshot of ``commit`` and point ``refs/<revision>`` at it."""
    repo = repo_folder(cache, hf_id)
    snapshot = make_tiny_model_dir(repo / "snapshots" / commit, **arch)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return snapshot


@pytest.fixture
def fake_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf" / "hub"
    for revision, (commit, arch) in REVISIONS.items():
        add_snapshot(cache, revision, commit, arch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # -> HF_HOME/hub, the fake cache
    return cache


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def hand_count_qwen3_non_embedding(cfg: dict) -> int:
    """Non-embedding parameters of a Qwen3 decoder from its config.json, by hand (independent of rlscaling.models.tiny):
    per layer q/k/v/o projections (no bias), q/k RMSNorms (head_dim each), SwiGLU MLP (3 matrices), two RMSNorms;
    plus the final RMSNorm."""
    h, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d, inter = cfg["head_dim"], cfg["intermediate_size"]
    attention = h * heads * d + 2 * h * kv * d + heads * d * h + 2 * d
    per_layer = attention + 3 * h * inter + 2 * h
    return cfg["num_hidden_layers"] * per_layer + h


def test_each_revision_resolves_to_its_own_weights_and_nothing_is_copied(fake_cache, tmp_path):
    outs = {}
    for revision, (commit, _) in REVISIONS.items():
        out = tmp_path / "results" / "models" / "m" / revision / "base"
        info = fetch_hub_model(HF_ID, out, tokens=1e9, revision=revision, annealed="stage2" in revision)
        assert info["commit"] == commit and info["revision"] == revision and info["hf_id"] == HF_ID
        assert files_under(out) == ["pretrain.json"]  # a pointer, no weights, no config
        assert (out / "pretrain.json").stat().st_size < 2000
        outs[revision] = out
    assert not list((tmp_path / "results").rglob("*.safetensors"))
    for revision, (commit, arch) in REVISIONS.items():
        resolved = Path(resolve_model_path(outs[revision]))
        assert resolved == repo_folder(fake_cache) / "snapshots" / commit
        cfg = json.loads((resolved / "config.json").read_text())
        assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (arch["hidden_size"], arch["num_hidden_layers"])
    a, b = (Path(resolve_model_path(outs[r])) / "model.safetensors" for r in REVISIONS)
    assert a.read_bytes() != b.read_bytes()
    pointers = [json.loads((outs[r] / "pretrain.json").read_text()) for r in REVISIONS]
    assert [p["annealed"] for p in pointers] == [False, True]


def test_resolved_snapshot_loads_with_transformers(fake_cache, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    revision = "stage2-ingredient1-step50-tokens2B"
    fetch_hub_model(HF_ID, tmp_path / "base", tokens=2e9, revision=revision)
    path = resolve_model_path(tmp_path / "base")
    model = AutoModelForCausalLM.from_pretrained(path)
    AutoTokenizer.from_pretrained(path)
    saved = load_file(str(repo_folder(fake_cache) / "snapshots" / SHA_B / "model.safetensors"))
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())


def test_pointer_pins_the_commit_even_when_the_branch_moves(fake_cache, tmp_path):
    revision = "stage1-step100-tokens1B"
    fetch_hub_model(HF_ID, tmp_path / "base", tokens=1e9, revision=revision)
    add_snapshot(fake_cache, revision, "c" * 40, {"hidden_size": 16, "num_hidden_layers": 1})  # branch re-pushed
    assert Path(resolve_model_path(tmp_path / "base")).name == SHA_A


def test_n_params_computed_from_config_json(fake_cache, tmp_path):
    for revision, (commit, _) in REVISIONS.items():
        info = fetch_hub_model(HF_ID, tmp_path / revision, tokens=3e9, revision=revision)
        cfg = json.loads((repo_folder(fake_cache) / "snapshots" / commit / "config.json").read_text())
        n, h = hand_count_qwen3_non_embedding(cfg), cfg["hidden_size"] * cfg["vocab_size"]
        assert info["n_params_non_embedding"] == n and info["head_params"] == h
        assert info["n_params_source"] == "computed from config.json"
        assert info["c_pretrain_flops"] == pytest.approx(6 * (n + h) * 3e9, rel=1e-12)
        assert info["head_flops_share"] == pytest.approx(h / (n + h))
        assert json.loads((tmp_path / revision / "pretrain.json").read_text()) == info


def test_n_params_given_in_config_is_recorded_as_such(fake_cache, tmp_path):
    info = fetch_hub_model(HF_ID, tmp_path / "base", tokens=2.0e10, revision="stage1-step100-tokens1B", n_params=1.23e9)
    assert info["n_params_non_embedding"] == 1.23e9 and info["n_params_source"] == "config"
    h = info["head_params"]  # from config.json whatever N the config gives
    assert h > 0 and info["c_pretrain_flops"] == pytest.approx(6 * (1.23e9 + h) * 2.0e10, rel=1e-12)
    assert info["tokens_trained"] == 2.0e10


def test_uncached_revision_fails_fast_naming_model_and_revision(fake_cache, tmp_path):
    t0 = time.time()
    with pytest.raises(HubModelError, match=r"org/tiny-suite.*stage1-step999-tokens9B.*snakemake --until pretrain"):
        fetch_hub_model(HF_ID, tmp_path / "base", tokens=1e9, revision="stage1-step999-tokens9B")
    with pytest.raises(HubModelError, match="Qwen/Qwen3-0.6B-Base"):
        fetch_hub_model("Qwen/Qwen3-0.6B-Base", tmp_path / "other", tokens=3.6e13)
    assert time.time() - t0 < 10
    assert not (tmp_path / "base").exists() and not (tmp_path / "other").exists()


def test_resolving_a_pointer_whose_snapshot_left_the_cache_names_what_to_run(fake_cache, tmp_path):
    import shutil

    fetch_hub_model(HF_ID, tmp_path / "base", tokens=1e9, revision="stage1-step100-tokens1B")
    shutil.rmtree(repo_folder(fake_cache) / "snapshots" / SHA_A)
    with pytest.raises(HubModelError, match=rf"org/tiny-suite.*stage1-step100-tokens1B.*{SHA_A}.*hf download"):
        resolve_model_path(tmp_path / "base")


def test_model_directories_resolve_to_themselves(tmp_path):
    model = make_tiny_model_dir(tmp_path / "grpo" / "step_7")
    (model / "pretrain.json").write_text(json.dumps({"tokens_trained": 1e6}))  # an embedded model has both
    assert resolve_model_path(model) == str(model)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither a model directory"):
        resolve_model_path(tmp_path / "empty")


def test_malformed_pointer_names_the_missing_keys(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "pretrain.json").write_text(json.dumps({"source": "hub", "hf_id": HF_ID}))
    with pytest.raises(HubModelError, match=r"\['revision', 'commit'\]"):
        resolve_model_path(tmp_path / "base")


def test_resolve_runs_without_torch_or_transformers(fake_cache, tmp_path):
    fetch_hub_model(HF_ID, tmp_path / "base", tokens=1e9, revision="stage1-step100-tokens1B", n_params=1e6)
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from rlscaling.models.hub import resolve_model_path\n"
        f"print(resolve_model_path({str(tmp_path / 'base')!r}))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(fake_cache.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == repo_folder(fake_cache) / "snapshots" / SHA_A


def test_hub_cache_dir_follows_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert hub.hub_cache_dir() == str(tmp_path / "home" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub.hub_cache_dir() == str(tmp_path / "cache")


# ---- budgets ------------------------------------------------------------------------------------


def test_parse_budget_bare_number_and_object_with_defaults():
    assert parse_budget("m", "36T", 3.6e13, "Qwen/Qwen3-0.6B-Base") == hub.HubBudget(
        "36T", 3.6e13, "Qwen/Qwen3-0.6B-Base", "main", False
    )
    b = parse_budget(
        "olmo2-1b",
        "s2",
        {"tokens": 4.05e12, "revision": "stage2-ingredient1-step23852-tokens51B", "annealed": True},
        "allenai/OLMo-2-0425-1B",
    )
    assert (b.hf_id, b.revision, b.annealed, b.tokens) == (
        "allenai/OLMo-2-0425-1B",
        "stage2-ingredient1-step23852-tokens51B",
        True,
        4.05e12,
    )
    own = parse_budget("evolm-1b", "40BT", {"tokens": 4e10, "hf_id": "zhenting/evolm-1B-40BT"}, "x/default")
    assert own.hf_id == "zhenting/evolm-1B-40BT"
    assert parse_budget("tiny", "1M", 1_000_000).hf_id is None  # embedded-study budgets have no hub model


@pytest.mark.parametrize(
    "value, culprit",
    [
        ({"tokens": 0}, "models.m.budgets.b.tokens"),
        ({"tokens": True}, "models.m.budgets.b.tokens"),
        ({"tokens": float("nan")}, "models.m.budgets.b.tokens"),
        ({"revision": "main"}, "models.m.budgets.b.tokens"),
        ({"tokens": 1e9, "annealed": "yes"}, "models.m.budgets.b.annealed"),
        ({"tokens": 1e9, "revision": ""}, "models.m.budgets.b.revision"),
        ({"tokens": 1e9, "hf_id": "no-org"}, "models.m.budgets.b.hf_id"),
        ({"tokens": 1e9, "revison": "main"}, r"models.m.budgets.b: unknown keys \['revison'\]"),
        ("20BT", "models.m.budgets.b.tokens"),
    ],
)
def test_parse_budget_errors_name_the_key(value, culprit):
    with pytest.raises(ValueError, match=culprit):
        parse_budget("m", "b", value)


def test_model_budgets_fall_back_to_pretrain_budgets():
    spec = {"hf_id": "Qwen/Qwen3-4B-Base"}
    assert [b.label for b in hub.model_budgets(spec, "q", {"36T": 3.6e13})] == ["36T"]
    with pytest.raises(ValueError, match="models.q.budgets"):
        hub.model_budgets(spec, "q", None)
