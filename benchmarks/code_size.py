"""Code-size targets of the package: lines per module and per function (``wc -l`` counts).

Prints every module of ``src/rlscaling`` with its line count, then every function (or method) longer than the
function target with its length in lines (``def`` line to last line, decorators excluded), longest first.
Exit status 1 when a target is exceeded, so CI can run it; ``--all`` lists every function.

    python benchmarks/code_size.py [--max-module 400] [--max-function 60] [--root src/rlscaling]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "rlscaling"


def module_lines(path: Path) -> int:
    """Newline count of ``path`` (what ``wc -l`` prints)."""
    return path.read_bytes().count(b"\n")


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """``(qualified name, lines)`` for every function and method defined in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--max-module", type=int, default=400, help="lines per module")
    parser.add_argument("--max-function", type=int, default=60, help="lines per function")
    parser.add_argument("--all", action="store_true", help="list every function, not only the long ones")
    args = parser.parse_args(argv)
    files = sorted(args.root.rglob("*.py"))
    failed = False
    print(f"modules (lines; target <= {args.max_module})")
    for path in sorted(files, key=module_lines, reverse=True):
        n = module_lines(path)
        failed |= n > args.max_module
        print(f"{'!' if n > args.max_module else ' '} {n:5d}  {path.relative_to(args.root.parent)}")
    rows = [
        (n, f"{path.relative_to(args.root.parent)}::{name}") for path in files for name, n in function_lengths(path)
    ]
    print(f"\nfunctions (lines; target <= {args.max_function})")
    for n, where in sorted(rows, reverse=True):
        if n > args.max_function or args.all:
            failed |= n > args.max_function
            print(f"{'!' if n > args.max_function else ' '} {n:5d}  {where}")
    longest = max(rows, default=(0, "-"))
    print(f"\nlongest function: {longest[1]} ({longest[0]} lines)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
