"""rlscaling.io: atomic writers leave no partial file and give outputs the modes the umask gives; the JSON-lines
reader names file and line for every bad line."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from rlscaling import io


@pytest.fixture(params=[0o022, 0o002, 0o077], ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_the_umask_modes(tmp_path, umask):
    writers = {
        "a.json": lambda p: io.write_json(p, {"a": 1}),
        "b.jsonl": lambda p: io.write_jsonl(p, [{"a": 1}]),
        "c.txt": lambda p: io.write_text(p, "x"),
        "d.csv": lambda p: io.write_csv(p, pd.DataFrame({"a": [1]})),
    }
    for name, write in writers.items():
        write(tmp_path / name)
        assert _mode(tmp_path / name) == 0o666 & ~umask, name
    with io.atomic_open(tmp_path / "e.bin", "wb") as fh:
        fh.write(b"\x00")
    assert _mode(tmp_path / "e.bin") == 0o666 & ~umask
    reference = tmp_path / "plain.txt"  # what open() gives under the same umask
    reference.write_text("x")
    assert _mode(tmp_path / "a.json") == _mode(reference)


def test_atomic_dir_gets_the_umask_mode_and_replaces_the_old_one(tmp_path, umask):
    target = tmp_path / "model"
    for content in ("old", "new"):
        with io.atomic_dir(target) as tmp:
            (tmp / "weights").write_text(content)
    assert _mode(target) == 0o777 & ~umask
    assert (target / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    io.write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), io.atomic_open(path) as fh:
        fh.write('{"v": 2, "partial')
        raise RuntimeError("interrupted")
    assert io.read_json(path) == {"v": 1}
    with pytest.raises(RuntimeError), io.atomic_dir(tmp_path / "d") as tmp:
        (tmp / "f").write_text("x")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_temporary_names_never_collide(tmp_path):
    names = {io._tmp_sibling(tmp_path / "x.json") for _ in range(200)}
    assert len(names) == 200 and all(p.name.startswith(".x.json.tmp-") and p.is_file() for p in names)


def test_iter_jsonl_line_numbers_and_errors(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": 2}\r\n')  # BOM, blank lines, CRLF
    assert list(io.iter_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]
    assert io.read_jsonl(path) == [{"a": 1}, {"a": 2}]
    cases = {
        b'{"a": 1}\n{"a": "\xff"}\n': r":2: not valid UTF-8 \(byte\(s\) ff at byte 8 of the line: invalid start byte\)",
        b'{"a": 1}\n\n{"a": \n': r":3: malformed JSON line",
        b"[1, 2]\n": r":1: expected a JSON object, got list",
    }
    for content, message in cases.items():
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"{path}{message}"):
            io.read_jsonl(path)
