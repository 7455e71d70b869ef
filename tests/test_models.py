"""rlscaling.models.checkpoints and models.load_causal_lm: a bad checkpoint fails with the directory and the bad file
named (not transformers' or safetensors' own message); a good one loads."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile

import pytest

from rlscaling.models.checkpoints import CheckpointError, check_checkpoint, looks_like_hub_id, safetensors_tensors


def write_safetensors(path, tensors: dict[str, tuple[str, list[int]]], data_bytes: int | None = None) -> int:
    """A safetensors file with zero-filled tensors ``name -> (dtype, shape)``; returns the size of its data section.

    ``data_bytes`` writes that many data bytes instead (fewer = a truncated file).
    """
    itemsize = {"F32": 4, "BF16": 2, "I64": 8}
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = itemsize[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    size = offset if data_bytes is None else data_bytes
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * size)
    return offset


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tiny_models import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture()
def ckpt(tiny_dir, tmp_path):
    """A fresh copy of a good tiny checkpoint (config.json, model.safetensors, tokenizer files)."""
    return shutil.copytree(tiny_dir, tmp_path / "step_10")


def test_good_checkpoint_passes_and_loads(ckpt):
    from rlscaling.models.tiny import load_causal_lm

    check_checkpoint(ckpt)
    assert load_causal_lm(ckpt).config.model_type == "qwen3"


def test_missing_or_broken_config(ckpt):
    from rlscaling.models.tiny import load_causal_lm

    (ckpt / "config.json").unlink()
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt}: config.json is missing"):
        load_causal_lm(ckpt)  # transformers said: "Unrecognized model in <dir>. Should have a `model_type` key"
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt}: config.json is not valid JSON .* line 1 column 2"):
        check_checkpoint(ckpt)
    (ckpt / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(CheckpointError, match="config.json has no 'model_type'"):
        check_checkpoint(ckpt)
    (ckpt / "config.json").write_text("[1]")
    with pytest.raises(CheckpointError, match="config.json must hold a JSON object"):
        check_checkpoint(ckpt)


@pytest.mark.parametrize("keep", ["half", "all but one byte", "4 bytes", "header only minus one"])
def test_truncated_safetensors_named_with_sizes(ckpt, keep):
    from rlscaling.models.tiny import load_causal_lm

    weights = ckpt / "model.safetensors"
    blob = weights.read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    cut = {
        "half": len(blob) // 2,
        "all but one byte": len(blob) - 1,
        "4 bytes": 4,
        "header only minus one": 8 + header_len - 1,
    }[keep]
    weights.write_bytes(blob[:cut])
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt}: model.safetensors is truncated"):
        load_causal_lm(ckpt)  # safetensors said: "Error while deserializing header: incomplete metadata, ..."


def test_truncation_message_states_the_missing_bytes(tmp_path):
    end = write_safetensors(tmp_path / "w.safetensors", {"a": ("F32", [3, 4]), "b": ("BF16", [5])}, data_bytes=50)
    assert end == 58
    with pytest.raises(CheckpointError, match="describes 58 bytes of tensor data, the file holds 50 .* 8 missing"):
        safetensors_tensors(tmp_path, "w.safetensors")
    write_safetensors(tmp_path / "ok.safetensors", {"a": ("F32", [3, 4]), "b": ("BF16", [5])})
    assert safetensors_tensors(tmp_path, "ok.safetensors") == {"a", "b"}


def test_corrupt_safetensors_headers(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(CheckpointError, match="header length field says 1000000000000 bytes"):
        safetensors_tensors(tmp_path, bad.name)
    bad.write_bytes(struct.pack("<Q", 4) + b"{oop")
    with pytest.raises(CheckpointError, match="the header is not valid JSON"):
        safetensors_tensors(tmp_path, bad.name)
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(CheckpointError, match=r"tensor 'a': data_offsets \[0, 4\] span 4 bytes, .* needs 8"):
        safetensors_tensors(tmp_path, bad.name)
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(CheckpointError, match="invalid data_offsets"):
        safetensors_tensors(tmp_path, bad.name)


def test_no_weights_file_lists_what_is_there(ckpt):
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt}: no weights file .*found: config.json, "):
        check_checkpoint(ckpt)


def test_sharded_index_missing_and_inconsistent_shards(ckpt):
    (ckpt / "model.safetensors").unlink()
    write_safetensors(ckpt / "model-00001-of-00002.safetensors", {"a": ("F32", [2])})
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="index.json names 1 missing shard file.*model-00002-of-00002"):
        check_checkpoint(ckpt)
    write_safetensors(ckpt / "model-00002-of-00002.safetensors", {"c": ("I64", [1])})
    with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors lacks 1 tensor.* e.g. 'b'"):
        check_checkpoint(ckpt)
    write_safetensors(ckpt / "model-00002-of-00002.safetensors", {"b": ("I64", [3])}, data_bytes=10)
    with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors is truncated"):
        check_checkpoint(ckpt)
    write_safetensors(ckpt / "model-00002-of-00002.safetensors", {"b": ("I64", [3])})
    check_checkpoint(ckpt)
    (ckpt / "model.safetensors.index.json").write_text('{"weight_map": {}}')
    with pytest.raises(CheckpointError, match="has no 'weight_map'"):
        check_checkpoint(ckpt)


def test_torch_bin_must_be_a_readable_archive(ckpt):
    (ckpt / "model.safetensors").unlink()
    with zipfile.ZipFile(ckpt / "pytorch_model.bin", "w") as zf:
        zf.writestr("archive/data.pkl", b"x" * 100)
    check_checkpoint(ckpt)
    blob = (ckpt / "pytorch_model.bin").read_bytes()
    (ckpt / "pytorch_model.bin").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="pytorch_model.bin is truncated or not a torch.save archive"):
        check_checkpoint(ckpt)


def test_tokenizer_files(ckpt):
    (ckpt / "tokenizer.json").write_text("{")
    with pytest.raises(CheckpointError, match="tokenizer.json is not valid JSON"):
        check_checkpoint(ckpt)
    (ckpt / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt}: tokenizer files missing"):
        check_checkpoint(ckpt)
    check_checkpoint(ckpt, require_tokenizer=False)
    (ckpt / "vocab.json").write_text("{}")
    (ckpt / "merges.txt").write_text("")
    check_checkpoint(ckpt)


def test_missing_directory_and_hub_ids(tmp_path):
    from rlscaling.models.tiny import load_causal_lm

    with pytest.raises(CheckpointError, match=f"checkpoint {tmp_path / 'results/grpo/step_5'}: directory does not"):
        load_causal_lm(tmp_path / "results/grpo/step_5")
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointError, match="not a directory"):
        check_checkpoint(tmp_path / "file")
    assert looks_like_hub_id("Qwen/Qwen3-4B-Base") and looks_like_hub_id("gpt2")
    assert not any(map(looks_like_hub_id, ["/abs/model", "./model", "results/models/base", "a/b/c", "../x"]))


def test_check_if_local_skips_only_hub_ids(ckpt, tmp_path, monkeypatch):
    from rlscaling.models.checkpoints import check_if_local

    assert check_if_local(ckpt) is True
    assert check_if_local("Qwen/Qwen3-4B-Base") is False
    with pytest.raises(CheckpointError, match="directory does not exist"):
        check_if_local(tmp_path / "missing")
    monkeypatch.chdir(tmp_path)  # a relative path that exists is checked even if it reads like a hub id
    (ckpt / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        check_if_local("step_10")
