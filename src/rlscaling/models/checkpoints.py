"""Check a Hugging Face model directory before loading it: a bad checkpoint is named with its bad file.

``transformers`` and ``safetensors`` report a missing ``config.json`` or a truncated weights file with their own
messages and no path ("Unrecognized model ...", "incomplete metadata, file not fully covered"). :func:`check_checkpoint`
reads only ``config.json``, the tokenizer files' names and the safetensors *headers* (8-byte little-endian header
length, then a JSON header mapping tensor names to ``dtype``, ``shape`` and ``data_offsets``), never the tensor data,
and raises one :class:`CheckpointError` naming the checkpoint directory and the file. Standard library only, so both
evaluation backends, the GRPO trainers and the verl environment can call it without importing torch.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_BIN = "pytorch_model.bin"
TORCH_BIN_INDEX = "pytorch_model.bin.index.json"
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS_INDEX, TORCH_BIN, TORCH_BIN_INDEX)
"""Weights files ``from_pretrained`` looks for, in its order of preference."""

TOKENIZER_FILE_SETS = (("tokenizer.json",), ("tokenizer.model",), ("vocab.json", "merges.txt"), ("vocab.txt",))
"""Any one of these sets of files is a loadable tokenizer (fast tokenizer, SentencePiece, BPE, WordPiece)."""

MAX_HEADER_BYTES = 100_000_000
"""The safetensors format caps the JSON header at 100 MB; a larger length field means a corrupt file."""

DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "BF16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
}
"""Bytes per element of the safetensors dtypes (unknown dtypes skip the size-vs-shape check)."""

_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?")


class CheckpointError(ValueError):
    """A model directory that cannot be loaded; the message names the directory and the bad file."""


def looks_like_hub_id(path: str | os.PathLike) -> bool:
    """Whether ``path`` reads as a hub id (``"Qwen/Qwen3-4B-Base"``, ``"gpt2"``) rather than a directory.

    Absolute paths, ``./``-relative paths and paths with more than one ``/`` are directories.
    """
    return _HUB_ID.fullmatch(str(path)) is not None


def check_if_local(path: str | os.PathLike, require_tokenizer: bool = True) -> bool:
    """:func:`check_checkpoint` on ``path`` unless it is a hub id that is not a local path; whether it checked.

    For callers that take either (``from_pretrained(path)``): a path that exists, or that does not read as a hub
    id (:func:`looks_like_hub_id`), is a directory that must be a valid checkpoint.
    """
    if os.path.exists(path) or not looks_like_hub_id(path):
        check_checkpoint(path, require_tokenizer=require_tokenizer)
        return True
    return False


def check_checkpoint(path: str | os.PathLike, require_tokenizer: bool = True) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a loadable-looking model directory; return ``None`` if it is.

    Checks: the directory exists; ``config.json`` is a JSON object with a ``model_type``; a weights file exists
    (``WEIGHT_FILES``); every safetensors file has a valid header, tensors whose ``data_offsets`` match their
    dtype and shape, and at least as many data bytes as its largest tensor end offset (else it is truncated); a
    sharded index names only shards that exist and hold the tensors it maps to them; a ``pytorch_model.bin`` is a
    readable zip archive; with ``require_tokenizer``, one of ``TOKENIZER_FILE_SETS`` is present.
    """
    ckpt = Path(path)
    if not ckpt.exists():
        raise CheckpointError(f"checkpoint {ckpt}: directory does not exist")
    if not ckpt.is_dir():
        raise CheckpointError(f"checkpoint {ckpt}: not a directory")
    _check_config(ckpt)
    _check_weights(ckpt)
    if require_tokenizer:
        _check_tokenizer(ckpt)


def _read_json_file(ckpt: Path, name: str) -> Any:
    file = ckpt / name
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {ckpt}: {name} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {ckpt}: cannot read {name} ({type(exc).__name__}: {exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"checkpoint {ckpt}: {name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def _check_config(ckpt: Path) -> None:
    config = _read_json_file(ckpt, CONFIG)
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {ckpt}: {CONFIG} must hold a JSON object, got {type(config).__name__}")
    if not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise CheckpointError(f"checkpoint {ckpt}: {CONFIG} has no 'model_type' (transformers cannot pick a model)")


def _check_weights(ckpt: Path) -> None:
    present = [name for name in WEIGHT_FILES if (ckpt / name).is_file()]
    if not present:
        listing = ", ".join(sorted(p.name for p in ckpt.iterdir())) or "nothing"
        raise CheckpointError(
            f"checkpoint {ckpt}: no weights file (expected one of {', '.join(WEIGHT_FILES)}; found: {listing})"
        )
    name = present[0]
    if name == SAFETENSORS:
        safetensors_tensors(ckpt, SAFETENSORS)
    elif name == TORCH_BIN:
        _check_torch_bin(ckpt, TORCH_BIN)
    else:
        _check_index(ckpt, name)


def _check_index(ckpt: Path, index_name: str) -> None:
    """A sharded checkpoint: every shard in ``weight_map`` exists, is valid and holds the tensors mapped to it."""
    index = _read_json_file(ckpt, index_name)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"checkpoint {ckpt}: {index_name} has no 'weight_map' of tensor name -> shard file")
    by_shard: dict[str, list[str]] = {}
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or Path(shard).name != shard:
            raise CheckpointError(f"checkpoint {ckpt}: {index_name} maps {tensor!r} to an invalid shard name {shard!r}")
        by_shard.setdefault(shard, []).append(tensor)
    missing = sorted(shard for shard in by_shard if not (ckpt / shard).is_file())
    if missing:
        raise CheckpointError(
            f"checkpoint {ckpt}: {index_name} names {len(missing)} missing shard file(s): {', '.join(missing)}"
        )
    for shard, tensors in sorted(by_shard.items()):
        if not shard.endswith(".safetensors"):
            _check_torch_bin(ckpt, shard)
            continue
        held = safetensors_tensors(ckpt, shard)
        absent = [t for t in tensors if t not in held]
        if absent:
            raise CheckpointError(
                f"checkpoint {ckpt}: {shard} lacks {len(absent)} tensor(s) that {index_name} maps to it, "
                f"e.g. {absent[0]!r}"
            )


def safetensors_tensors(ckpt: Path, name: str) -> set[str]:
    """Names of the tensors in ``ckpt/name`` after validating its header against the file size.

    Raises :class:`CheckpointError` for: a file shorter than 8 bytes; a header length beyond the file or over
    ``MAX_HEADER_BYTES``; a header that is not a UTF-8 JSON object; an entry without a valid ``dtype``/``shape``/
    ``data_offsets`` (``[begin, end]``, ``0 <= begin <= end``, ``end - begin`` = elements × dtype bytes); or fewer
    data bytes after the header than the largest ``end`` offset (a truncated file).
    """
    file = ckpt / name
    size = file.stat().st_size
    where = f"checkpoint {ckpt}: {name}"
    if size < 8:
        raise CheckpointError(f"{where} is truncated: {size} bytes, fewer than the 8-byte header length field")
    with open(file, "rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
            raise CheckpointError(
                f"{where} is truncated or corrupt: its header length field says {header_len} bytes, "
                f"the file holds {size} bytes in all"
            )
        raw = fh.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{where}: the header is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: the header is not a JSON object")
    data_bytes = size - 8 - header_len
    largest_end = 0
    tensors = set()
    for tensor, info in header.items():
        if tensor == "__metadata__":
            continue
        end = _tensor_end(info, f"{where}: tensor {tensor!r}")
        largest_end = max(largest_end, end)
        tensors.add(tensor)
    if data_bytes < largest_end:
        raise CheckpointError(
            f"{where} is truncated: its header describes {largest_end} bytes of tensor data, "
            f"the file holds {data_bytes} ({size} bytes in all, {largest_end - data_bytes} missing)"
        )
    return tensors


def _tensor_end(info: Any, where: str) -> int:
    """End offset (bytes into the data section) of one header entry, after checking it is consistent."""
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    shape = info.get("shape") if isinstance(info, dict) else None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise CheckpointError(f"{where}: invalid data_offsets {offsets!r} in the header")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise CheckpointError(f"{where}: invalid shape {shape!r} in the header")
    itemsize = DTYPE_BYTES.get(info.get("dtype"))
    if itemsize is not None:
        n_elements = 1
        for d in shape:
            n_elements *= d
        if offsets[1] - offsets[0] != n_elements * itemsize:
            raise CheckpointError(
                f"{where}: data_offsets {offsets} span {offsets[1] - offsets[0]} bytes, "
                f"but shape {shape} of {info['dtype']} needs {n_elements * itemsize}"
            )
    return offsets[1]


def _check_torch_bin(ckpt: Path, name: str) -> None:
    """A ``torch.save`` file (a zip archive since torch 1.6): its central directory must be readable."""
    try:
        with zipfile.ZipFile(ckpt / name):
            pass
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"checkpoint {ckpt}: {name} is truncated or not a torch.save archive ({exc})") from None


def _check_tokenizer(ckpt: Path) -> None:
    if not any(all((ckpt / f).is_file() for f in files) for files in TOKENIZER_FILE_SETS):
        options = " or ".join("+".join(files) for files in TOKENIZER_FILE_SETS)
        raise CheckpointError(f"checkpoint {ckpt}: tokenizer files missing (expected {options})")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (ckpt / name).is_file():
            _read_json_file(ckpt, name)


__all__ = ["CheckpointError", "check_checkpoint", "check_if_local", "looks_like_hub_id", "safetensors_tensors"]
