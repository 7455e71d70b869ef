"""Atomic file output and small readers.

Every file the workflow produces is written to a temporary sibling and renamed into place, so an
interrupted job never leaves a half-written result that a later run would mistake for a finished one.

Outputs get the modes the user's umask gives (``0666``/``0777`` minus the umask, like ``open``/``mkdir``):
the temporary siblings are created with those base modes, not with ``tempfile``'s private ``0600``/``0700``,
which would survive the rename and hide results from the group on a shared file system.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_TMP_ATTEMPTS = 100


def _tmp_sibling(path: Path, directory: bool = False) -> Path:
    """Create an empty file (or directory) named ``.<name>.tmp-<random>`` next to ``path``; return it.

    Created with base mode ``0o666`` (file) / ``0o777`` (directory) so the process umask alone decides
    the final mode, as for any file the user creates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_TMP_ATTEMPTS):
        tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(4)}"
        try:
            if directory:
                os.mkdir(tmp, 0o777)
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name} after {_TMP_ATTEMPTS} tries")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; move it onto ``path`` only on success.

    An existing ``path`` is replaced. Used for model directories written by ``save_pretrained``.
    """
    path = Path(path)
    tmp = _tmp_sibling(path, directory=True)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file for writing; it replaces ``path`` when the block exits cleanly."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    with atomic_open(path) as fh:
        json.dump(obj, fh, indent=indent, sort_keys=False, default=_json_default)
        fh.write("\n")


def existing_file(path: str | os.PathLike, what: str, error: type[Exception] = FileNotFoundError) -> Path:
    """``path`` as a Path; raises ``error("<what> not found: <path>")`` unless it is a regular file."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    return path


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Write one JSON object per line, atomically. Returns the number of rows."""
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_json_default))
            fh.write("\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSON-lines file (line numbers from 1).

    A line that is not UTF-8, not JSON or not a JSON object raises ``ValueError`` naming ``path:line``.
    A UTF-8 byte-order mark at the start of the file is ignored.
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.end].hex(" ")
                at = f"byte {exc.start + 1} of the line"
                raise ValueError(f"{path}:{lineno}: not valid UTF-8 (byte(s) {bad} at {at}: {exc.reason})") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: malformed JSON line ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSON-lines file; a bad line raises ``ValueError`` naming file and line number (:func:`iter_jsonl`)."""
    return [obj for _, obj in iter_jsonl(path)]


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating):
            return float(obj)
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
