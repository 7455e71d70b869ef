"""Records and settings for tests/test_prompt_strings.py: every registered family's prompts for a few records, in both
``prompts.style``s and several shot counts; their strings were captured before prompts became family hooks
(tests/fixtures/prompt_strings.json), so the hooks must reproduce them byte for byte."""

from __future__ import annotations

from rlscaling.data.sources import gsm8k_row_to_record, math_row_to_record, mmlu_row_to_record

_GSM8K_ROWS = [
    ("How many pens? ", "2,000 * 2 = <<2000*2=4000>>4,000\n#### 4,000"),
    (" Q one?\n", "1 + 1 = <<1+1=2>>2\n#### 2\n"),
    ("Tom has 3 apples and eats one. How many are left?", "3 - 1 = <<3-1=2>>2\n#### 2"),
    ("What is 10 / 4?", "10 / 4 = <<10/4=2.5>>2.5\n#### 2.5"),
    ("A train goes 60 km in 1.5 h; its speed?", "60 / 1.5 = <<60/1.5=40>>40 km/h\n#### 40"),
]
_MATH_ROWS = [
    ("What is $1+1$?", "It is $\\boxed{2}$.", "Algebra", "Level 1"),
    ("Simplify $\\frac{4}{6}$.", "Divide by 2: $\\boxed{\\frac{2}{3}}$.", "Prealgebra", "Level 2"),
    ("Solve $x^2=9$, $x>0$.", "So $x=\\boxed{3}$.", "Algebra", "Level ?"),
    (" Find $2^{10}$.\n", "$2^{10}=\\boxed{1024}$", "Number Theory", "Level 3"),
]
_MMLU_ROWS = [
    ("Which is a prime?", "college_mathematics", ["4", "6", "7", "9"], 2),
    ("2 + 2 = ?", "college_mathematics", ["3", "4", "5", "22"], 1),
    ("The derivative of x^2?", "college_mathematics", ["x", "2x", "x^2", "2"], 1),
    ("Capital of France?", "geography", ["Paris", "Rome", "Berlin", "Madrid"], 0),
    ("Which ocean is largest?", "geography", ["Atlantic", "Indian", "Arctic", "Pacific"], 3),
    (" Odd one out? ", "college_mathematics", ["1", "3", "5", "8"], "D"),
]


def _plain(rec: dict) -> dict:
    """The record without the dataset's raw strings (as a procedural: or jsonl: record has none)."""
    return {k: v for k, v in rec.items() if k != "raw"}


def cases() -> dict[str, tuple[list[dict], list[dict]]]:
    """Family -> (evaluated items, few-shot pool): hub-row records (with ``raw``) and records without ``raw``."""
    gsm = [gsm8k_row_to_record({"question": q, "answer": a}, i, "train") for i, (q, a) in enumerate(_GSM8K_ROWS)]
    math = [
        math_row_to_record({"problem": p, "solution": s, "type": t, "level": lv}, i, "train")
        for i, (p, s, t, lv) in enumerate(_MATH_ROWS)
    ]
    mmlu = [
        mmlu_row_to_record({"question": q, "subject": s, "choices": c, "answer": a}, i, "dev")
        for i, (q, s, c, a) in enumerate(_MMLU_ROWS)
    ]
    mmlu_short = {**_plain(mmlu[1]), "id": "mmlu-short", "choices": ["yes", "no"], "answer": "B", "subject": None}
    return {
        "gsm8k": ([gsm[0], _plain(gsm[2]), {**_plain(gsm[3]), "solution": None}], gsm),
        "math": ([math[0], _plain(math[2]), {**_plain(math[3]), "solution": ""}], math),
        "mmlu": ([mmlu[0], _plain(mmlu[3]), mmlu[5]], mmlu),
        "mmlu_consistent_only": ([mmlu_short], mmlu),
    }


SHOTS = (0, 1, 2, 3)
SEEDS = (0, 7)


def render_all(build_prompts) -> dict[str, str]:
    """Every prompt of the cases: key ``family|style|shots|seed|instruction|item id`` -> the prompt string, or
    ``ERROR: <message>`` where the builder refuses (e.g. the seed's MATH prompt at 1 shot)."""
    out: dict[str, str] = {}
    for name, (items, pool) in cases().items():
        benchmark = name.split("_")[0]
        for style in ("consistent", "seed"):
            if name.endswith("consistent_only") and style == "seed":
                continue
            for shots in SHOTS:
                for seed in SEEDS if style == "consistent" else (0,):
                    for instruction in (False, True) if benchmark == "gsm8k" and style == "consistent" else (False,):
                        for item in items:
                            key = f"{benchmark}|{style}|{shots}|{seed}|{instruction}|{item['id']}"
                            try:
                                (text,) = build_prompts(
                                    [item], pool, shots, seed, benchmark, instruction=instruction, style=style
                                )
                            except ValueError as exc:
                                text = f"ERROR: {exc}"
                            out[key] = text
    return out
