"""Writers of tiny, invented datasets in the hub datasets' column layouts (never real benchmark items).

Each writer puts ``<split>.<ext>`` files into a directory so that ``hf:<name>?data_dir=<dir>`` loads
them through ``datasets.load_dataset`` and the same row converters as the hub copies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

GSM8K_ROWS = {
    "train": [
        {
            "question": "Ann has 3 pens and buys 4 more. How many pens does she have?",
            "answer": "Ann has 3 + 4 = <<3+4=7>>7 pens.\n#### 7",
        },
        {
            "question": "A box holds 12 eggs. How many eggs are in 100 boxes?",
            "answer": "100 boxes hold 12 * 100 = <<12*100=1200>>1200 eggs.\n#### 1,200",
        },
        {"question": "Tom had 10 apples and ate 2. How many are left?", "answer": "10 - 2 = <<10-2=8>>8\n#### 8"},
    ],
    "test": [
        {
            "question": "Sam walks 2 km a day for 5 days. How far does he walk?",
            "answer": "He walks 2 * 5 = <<2*5=10>>10 km.\n#### 10",
        },
        {
            "question": "A shirt costs $15 and a hat $5. What do both cost?",
            "answer": "15 + 5 = <<15+5=20>>20 dollars.\n#### $20",
        },
    ],
}

MATH_ROWS = {
    "train": [
        {
            "problem": "What is $2+3$?",
            "level": "Level 1",
            "type": "Prealgebra",
            "solution": "We add: $2+3=\\boxed{5}$.",
        },
    ],
    "test": [
        {
            "problem": "Simplify $\\frac{4}{8}$.",
            "level": "Level 2",
            "type": "Algebra",
            "solution": "Divide by 4: $\\boxed{\\frac{1}{2}}$.",
        },
        {
            "problem": "Compute $10 \\cdot 100$.",
            "level": "Level ?",
            "type": "Number Theory",
            "solution": "First $\\boxed{10}$ is wrong; it is $\\boxed{1{,}000}$, i.e. $\\boxed{1000}$.",
        },
    ],
}

MMLU_ROWS = {
    "dev": [
        {
            "question": "Which is a prime number?",
            "subject": "elementary_mathematics",
            "choices": ["4", "6", "7", "9"],
            "answer": 2,
        },
        {
            "question": "What is 2 squared?",
            "subject": "elementary_mathematics",
            "choices": ["2", "4", "8", "16"],
            "answer": 1,
        },
    ],
    "test": [
        {
            "question": "Which gas do plants take in?",
            "subject": "high_school_biology",
            "choices": ["Oxygen", "Carbon dioxide", "Helium", "Neon"],
            "answer": 1,
        },
    ],
}

# Line-level WikiText layout (``wikitext``/``wikitext-2-raw-v1``): one row per raw line, blank lines as "".
# Two invented pages; the first has a section and a sub-section heading, which stay inside it.
WIKITEXT_LINES = [
    "",
    " = Invented River = \n",
    "",
    " The Invented River flows past two hills . \n",
    "",
    " = = Course = = \n",
    "",
    " It bends twice before the sea . \n",
    "",
    " = = = Tributaries = = = \n",
    "",
    " One stream joins it . \n",
    "",
    " = Invented Hill = \n",
    "",
    " A low hill beside the river . \n",
    "",
]
WIKITEXT_PAGES = [  # the same text page by page, lines joined by "\n" (EleutherAI/wikitext_document_level layout)
    "\n".join(
        [
            " = Invented River = ",
            "",
            " The Invented River flows past two hills . ",
            "",
            " = = Course = = ",
            "",
            " It bends twice before the sea . ",
            "",
            " = = = Tributaries = = = ",
            "",
            " One stream joins it . ",
            "",
        ]
    ),
    "\n".join([" = Invented Hill = ", "", " A low hill beside the river . ", ""]),
]
WIKITEXT_ROWS = {"validation": [{"text": line} for line in WIKITEXT_LINES]}
WIKITEXT_PAGE_ROWS = {"validation": [{"page": page} for page in WIKITEXT_PAGES]}


def _write(rows_by_split: dict[str, list[dict]], root: Path, fmt: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, rows in rows_by_split.items():
        frame = pd.DataFrame(rows)
        if fmt == "parquet":
            frame.to_parquet(root / f"{split}.parquet", index=False)
        elif fmt == "jsonl":
            frame.to_json(root / f"{split}.jsonl", orient="records", lines=True)
        else:
            raise ValueError(f"unknown fixture format {fmt!r}")
    return root


def write_gsm8k_dir(root: Path, fmt: str = "parquet") -> Path:
    """openai/gsm8k layout: ``question``, ``answer`` (worked text ending ``#### n``)."""
    return _write(GSM8K_ROWS, Path(root), fmt)


def write_math_dir(root: Path, fmt: str = "jsonl") -> Path:
    """MATH layout: ``problem``, ``level``, ``type``, ``solution`` (answer in the last ``\\boxed``)."""
    return _write(MATH_ROWS, Path(root), fmt)


def write_mmlu_dir(root: Path, fmt: str = "parquet") -> Path:
    """cais/mmlu layout: ``question``, ``subject``, ``choices`` (4 strings), ``answer`` (0-3); dev + test."""
    return _write(MMLU_ROWS, Path(root), fmt)


def write_wikitext_dir(root: Path, fmt: str = "parquet") -> Path:
    """Line-level wikitext layout: one ``text`` column, one row per line, blank separator rows included."""
    return _write(WIKITEXT_ROWS, Path(root), fmt)


def write_wikitext_pages_dir(root: Path, fmt: str = "parquet") -> Path:
    """Document-level layout (EleutherAI/wikitext_document_level): one ``page`` column, one row per page."""
    return _write(WIKITEXT_PAGE_ROWS, Path(root), fmt)


def write_lines(path: Path, lines: list) -> Path:
    """A JSON-lines file: dict items are dumped as JSON, strings are written verbatim (to plant errors)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path
