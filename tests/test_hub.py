"""Hub base models: offline without a cache fails fast with a message naming the model; a cached model is copied."""

import json
import time

import pytest

from rlscaling.hub import HubModelError, fetch_hub_model


def test_offline_uncached_model_fails_fast_and_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    t0 = time.time()
    with pytest.raises(HubModelError, match="Qwen/Qwen3-0.6B-Base"):
        fetch_hub_model("Qwen/Qwen3-0.6B-Base", tmp_path / "out", n_params=4.4e8, tokens=3.6e13)
    assert time.time() - t0 < 10
    assert not (tmp_path / "out").exists()


def test_cached_model_is_copied_with_compute_record(tmp_path, monkeypatch):
    import huggingface_hub

    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: str(snapshot))
    info = fetch_hub_model("org/model", tmp_path / "out", n_params=1e9, tokens=1e12)
    assert info["c_pretrain_flops"] == 6e21
    assert json.loads((tmp_path / "out" / "pretrain.json").read_text())["hf_id"] == "org/model"
    assert (tmp_path / "out" / "config.json").exists()
