"""The seed study's recipe (prompts.style seed, the seed_* scorers, RL rows, verl settings, validation-loss blocks).

Prompt strings are compared with the literal renderings of ../shared/reference/seed_recipe.md, read at test time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlscaling import rewards
from rlscaling import study as rs
from rlscaling.data.sources import gsm8k_row_to_record, mmlu_row_to_record, validate_record
from rlscaling.evaluation.perplexity import block_losses, chunked_blocks
from rlscaling.evaluation.run import scored_records
from rlscaling.prompts import GSM8K_INSTRUCTION, build_prompts, first_exemplars, rl_prompt, seed_prompt
from rlscaling.rewards import seed as sd
from rlscaling.training import verl_data
from rlscaling.training.verl_overrides import PLAIN_CHAT_TEMPLATE, override_map, parse_verl_job
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT.parent / "shared" / "reference" / "seed_recipe.md"
PATHS = {k: "/x" for k in ("model_dir", "train_parquet", "val_parquet", "ckpt_dir", "rollout_dir")}


@pytest.fixture(scope="module")
def recipe() -> str:
    if not RECIPE.is_file():
        pytest.skip(f"{RECIPE} is absent: the seed's literal prompt strings live there, outside the project")
    return RECIPE.read_text(encoding="utf-8")


def _literal(recipe: str, pattern: str) -> str:
    """The backtick literal after ``pattern`` in seed_recipe.md, with its ``\\n`` escapes as newlines."""
    m = re.search(pattern + r".*?`([^`]+)`", recipe, re.S)
    assert m is not None, f"seed_recipe.md has no literal after {pattern!r}"
    return m.group(1).replace("\\n", "\n")


def _fill(template: str, recipe: str, **values: str) -> str:
    values["I"] = _literal(recipe, r"`I` is exactly the following")
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _gsm8k_row(question: str, answer: str) -> dict:
    return {"question": question, "answer": answer}


ITEM = gsm8k_row_to_record(_gsm8k_row("How many pens? ", "2,000 * 2 = <<2000*2=4000>>4,000\n#### 4,000"), 0, "test")
POOL = [
    gsm8k_row_to_record(_gsm8k_row(" Q one?\n", "1 + 1 = <<1+1=2>>2\n#### 2\n"), 0, "train"),
    gsm8k_row_to_record(_gsm8k_row("Q two?", "3 * 4 = <<3*4=12>>12\n#### 1,200"), 1, "train"),
    gsm8k_row_to_record(_gsm8k_row("Q three?", "#### 3"), 2, "train"),
]
Q1, A1 = "Q one?", "1 + 1 = <<1+1=2>>2\n#### 2"  # stripped, annotations kept
Q2, A2 = "Q two?", "3 * 4 = <<3*4=12>>12\n#### 1,200"


# ------------------------------------------------------------------------------------------------ prompts


def test_instruction_is_the_recipes(recipe):
    assert GSM8K_INSTRUCTION == _literal(recipe, r"`I` is exactly the following")


def test_gsm8k_prompts_equal_the_recipes_renderings(recipe):
    zero = _fill(_literal(recipe, r"\*\*0-shot, all versions:\*\*"), recipe, question="How many pens? ")
    assert seed_prompt(ITEM, POOL, 0, "gsm8k") == zero  # the question unstripped, as the dataset gives it
    g3 = recipe[recipe.index("**G3**") :]
    one = _fill(_literal(g3, r"Rendered for k=1:"), recipe, q1=Q1, a1=A1, question="How many pens? ")
    two = _fill(_literal(g3, r"Rendered for k=2:"), recipe, q1=Q1, a1=A1, q2=Q2, a2=A2, question="How many pens? ")
    assert seed_prompt(ITEM, POOL, 1, "gsm8k") == one
    assert seed_prompt(ITEM, POOL, 2, "gsm8k") == two
    assert build_prompts([ITEM], POOL, 2, 7, "gsm8k", style="seed") == [two]  # exemplars: no seed involved
    assert one.endswith("\nAnswer: ") and "\n\n\nQuestion: " in one


def test_math_and_mmlu_prompts_equal_the_recipes(recipe):
    item = {"id": "m", "question": "x", "answer": "5", "raw": {"problem": "What is $2+3$? ", "answer": "5"}}
    math = _fill(_literal(recipe, r"\*\*Prompt\*\* \(0-shot only\):"), recipe, problem="What is $2+3$? ")
    assert seed_prompt(item, [], 0, "math") == math
    with pytest.raises(ValueError, match="0-shot only"):
        seed_prompt(item, [], 1, "math")
    row = {"question": "Which? ", "subject": "abstract_algebra", "choices": ["w", "x", "y", "z"], "answer": 2}
    mc = mmlu_row_to_record(row, 0, "test")
    mmlu = _literal(recipe, r"\*\*0-shot prompt:\*\*")
    mmlu = mmlu.replace("{subject}", "abstract_algebra").replace("{question}", "Which? ")
    for i, c in enumerate("wxyz"):
        mmlu = mmlu.replace(f"{{c{i}}}", c)
    assert seed_prompt(mc, None, 0, "mmlu") == mmlu


def test_mmlu_few_shot_layout_follows_the_recipe():
    """k-shot: instruction + \\n\\n, blocks ``Q: ...\\nA: The correct answer is L\\n`` joined by \\n plus \\n, then
    \\n\\n, then ``Q: {formatted question}\\nA: `` (seed_recipe.md (b)); exemplars: the subject's first k pool rows."""
    rows = [
        {"question": f"E{i}", "subject": s, "choices": ["a", "b", "c", "d"], "answer": i % 4}
        for i, s in enumerate(["other", "algebra", "algebra", "algebra"])
    ]
    pool = [mmlu_row_to_record(r, i, "dev") for i, r in enumerate(rows)]
    item = mmlu_row_to_record({"question": "T", "subject": "algebra", "choices": list("wxyz"), "answer": 0}, 0)
    prompt = seed_prompt(item, pool, 2, "mmlu")
    head = prompt[: prompt.index("\n\n") + 2]
    assert head.startswith("Answer the following multiple choice question about algebra.")
    block = "Q: E1\n\nA. a\nB. b\nC. c\nD. d\nA: The correct answer is B\n\nQ: E2\n\nA. a\nB. b\nC. c\nD. d\nA: "
    block += "The correct answer is C\n\n"
    assert prompt == head + block + "\n\n" + "Q: T\n\nA. w\nB. x\nC. y\nD. z\nA: "
    with pytest.raises(ValueError, match="of subject 'algebra'"):
        seed_prompt(item, pool, 4, "mmlu")


def test_seed_exemplars_are_the_first_rows_for_every_item():
    other = gsm8k_row_to_record(_gsm8k_row("Another?", "#### 9"), 5, "test")
    assert first_exemplars(POOL, 2) == POOL[:2]
    assert (
        seed_prompt(other, POOL, 2, "gsm8k").split("\n\n\n")[0]
        == seed_prompt(ITEM, POOL, 2, "gsm8k").split("\n\n\n")[0]
    )
    with pytest.raises(ValueError, match="4-shot prompt needs 4 exemplars"):
        seed_prompt(ITEM, POOL, 4, "gsm8k")


def test_records_without_raw_strings_use_their_own_fields():
    item = {"id": "p", "question": "What is 2 + 3?", "answer": "5", "solution": "2 + 3 = 5.\n#### 5"}
    assert seed_prompt(item, [item], 1, "gsm8k") == (
        f"Question: What is 2 + 3?\nAnswer: 2 + 3 = 5.\n#### 5\n\n\nQuestion: What is 2 + 3?\n{GSM8K_INSTRUCTION}\n"
        "Answer: "
    )


def test_rl_prompt_and_rows_are_verls_gsm8k_rows():
    assert rl_prompt(ITEM, "seed") == f"How many pens?  {GSM8K_INSTRUCTION}"  # raw question + " " + I
    assert rl_prompt(ITEM, "consistent") == "Question: How many pens?\nAnswer:"
    fields = verl_data.seed_row_fields(ITEM)
    assert fields["answer"] == "4000" and fields["data_source"] == "custom/gsm8k"  # commas removed for training
    assert fields["extra_info"] == {"question": "How many pens? ", "answer": ITEM["raw"]["answer"]}
    [row] = verl_data.verl_rows([{"prompt": "p", "id": "x", **fields}], "gsm8k", "custom_flexible")
    assert row["data_source"] == "custom/gsm8k" and row["reward_model"]["ground_truth"] == "4000"
    assert row["extra_info"]["reward_mode"] == "custom_flexible" and row["extra_info"]["question"] == "How many pens? "
    [plain] = verl_data.verl_rows([{"prompt": "p", "answer": "7"}], "gsm8k", "strict")
    assert plain["data_source"] == "gsm8k" and set(plain["extra_info"]) == {"split", "index", "id", "reward_mode"}
    assert rewards.compute_score("custom/gsm8k", "#### 4000", "4000", {"reward_mode": "strict"}) == 1.0


def test_records_keep_raw_strings_only_when_given():
    assert ITEM["raw"] == {"question": "How many pens? ", "answer": "2,000 * 2 = <<2000*2=4000>>4,000\n#### 4,000"}
    assert ITEM["answer"] == "4000" and ITEM["question"] == "How many pens?"  # existing fields unchanged
    assert "raw" not in validate_record({"id": "a", "question": "q", "answer": "1"}, "w")
    with pytest.raises(ValueError, match="field 'raw'"):
        validate_record({"id": "a", "question": "q", "answer": "1", "raw": {"answer": 3}}, "w")


# ------------------------------------------------------------------------------------------------ scorers


@pytest.mark.parametrize(
    "scorer,response,truth,extracted,score",
    [
        # the 300-character window: a marker further back is not read (verl 0.5's _SOLUTION_CLIP_CHARS)
        ("seed_strict", "#### 72\n" + "x" * 300, "72", None, 0.0),
        ("seed_strict", "#### 72\n" + "x" * 292, "72", "72", 1.0),
        ("seed_flexible", "72 " + "x" * 300, "72", None, 0.0),
        # comma ground truths: strict deletes commas, so a GSM8K test truth "2,125" can never match
        ("seed_strict", "so #### 2,125", "2,125", "2125", 0.0),
        ("seed_strict", "so #### 2,125", "2125", "2125", 1.0),
        ("seed_flexible", "so 2,125", "2,125", "2,125", 1.0),
        ("seed_flexible", "so 2,125", "2125", "2,125", 0.0),
        # strings, not numbers: a trailing period or decimals do not match
        ("seed_flexible", "The answer is 18.", "18", "18.", 0.0),
        ("seed_strict", "#### 18.00", "18", "18.00", 0.0),
        ("seed_strict", "#### $18", "18", None, 0.0),  # no "$" right after the marker in the pattern
        ("seed_strict", "#### 3\n#### 4", "4", "4", 1.0),  # the last marker
        ("seed_strict", "####7", "7", None, 0.0),  # the marker needs its space
        # "." tokens are skipped; only dots -> nothing
        ("seed_flexible", "It is 5 . . .", "5", "5", 1.0),
        ("seed_flexible", "so . . .", "5", None, 0.0),
        ("seed_flexible", "so ...", "5", "...", 0.0),  # "..." is a token (only "" and "." are skipped)
        ("seed_flexible", "x = -3", "-3", "-3", 1.0),
        # custom_flexible: the first "#### " + 10 characters, then flexible
        ("seed_custom_flexible", "3+4=7\n#### 7\nQuestion: 5*2=10\n#### 10", "7", "7", 1.0),
        ("seed_custom_flexible", "#### 125000", "125000", "12500", 0.0),  # > 5 characters after the marker: cut
        ("seed_custom_flexible", "#### 12345 and more 9", "12345", "12345", 1.0),
        ("seed_custom_flexible", "no marker, last 42", "42", "42", 1.0),
        ("seed_custom_flexible", "y" * 400 + "#### 7" + "z" * 400, "7", "7", 1.0),  # window after the cut
        ("seed_math", "so #### 5", "5", "5", 1.0),
        ("seed_math", "#### 1/2", "\\frac{1}{2}", "2", 0.0),  # LaTeX truths never match
    ],
)
def test_seed_gsm8k_and_math_scorers(scorer, response, truth, extracted, score):
    assert sd.score_seed(scorer, response, truth) == (extracted, score)
    kind = "math" if scorer == "seed_math" else "gsm8k"
    assert rewards.score_response(kind, scorer, response, truth) == (extracted, score)
    assert rewards.score(scorer, response, truth, window=50) == score  # the window is fixed at 300


@pytest.mark.parametrize(
    "response,letter",
    [
        ("The correct answer is B. Or maybe C", "B"),  # pattern 1, first occurrence
        ("I pick D.", "D"),  # pattern 2: a letter then "." ending the stripped text
        ("Answer: C\nmore A", "C"),  # pattern 3
        ("  A  ", "A"),  # pattern 4
        ("maybe A or C then", "C"),  # otherwise the last standalone letter
        ("ABCD", None),
        ("", None),
    ],
)
def test_seed_mmlu_letter(response, letter):
    assert sd.extract_seed_mmlu_letter(response) == letter
    assert rewards.score_response("mmlu", "seed_mmlu_letter", response, "C") == (letter, float(letter == "C"))


def test_seed_ground_truths():
    raw = "Half of 4,250 is <<4250/2=2125>>2,125.\n#### 2,125"
    assert sd.gsm8k_eval_truth(raw) == "2,125" and sd.gsm8k_rl_truth(raw) == "2125"
    assert sd.seed_truth("gsm8k", ITEM) == "4,000" and sd.seed_truth("gsm8k", {"answer": "7"}) == "7"
    with pytest.raises(ValueError, match="no '#### <number>'"):
        sd.gsm8k_rl_truth("no marker")


def test_seed_scorers_are_registered_beside_the_projects():
    for kind, names in (("gsm8k", sd.SEED_GSM8K), ("math", sd.SEED_MATH), ("mmlu", sd.SEED_MMLU)):
        assert set(names) <= set(rewards.SCORERS[kind])
    from rlscaling import tasks

    assert all(tasks.scorer(s).seed and tasks.scorer(s).label is not None for s in sd.SEED_SCORERS)
    assert all(tasks.scorer(s).color is not None for s in sd.SEED_GSM8K)


def test_records_gain_the_seed_answer_only_with_seed_scorers():
    outs = [[{"text": "so #### 4,000", "prompt_tokens": 3, "response_tokens": 4}]]
    [plain] = scored_records("gsm8k", [ITEM], outs, ["strict"])
    assert "seed_answer" not in plain and plain["score"] == {"strict": 1.0}
    [both] = scored_records("gsm8k", [ITEM], outs, ["strict", "seed_strict", "seed_flexible"])
    assert both["seed_answer"] == "4,000" and both["answer"] == "4000"
    assert both["score"] == {"strict": 1.0, "seed_strict": 0.0, "seed_flexible": 1.0}
    assert both["extracted"]["seed_strict"] == "4000"


@pytest.mark.parametrize("text", ["A" + " " * 1_000_000 + ".", "1," * 500_000, "#### " * 200_000, "A. " * 300_000])
def test_seed_scorers_are_fast_on_one_megabyte(text):
    import time

    start = time.perf_counter()
    for scorer in sd.SEED_SCORERS:
        sd.extract_seed(scorer, text)
    assert time.perf_counter() - start < 1.0


# ------------------------------------------------------------------------------------------------ the config


def test_qwen3_config_is_the_seeds_recipe():
    cfg = rc.load_config(ROOT / "configs" / "qwen3.yaml")
    assert cfg["prompts"]["style"] == "seed"
    for model in cfg["models"]:
        g = rs.grpo_settings(cfg, model)
        assert (g["epochs"], g["steps"]) == (4, 56), model  # floor(7473 / 512) = 14 steps per epoch
        m = override_map(*parse_verl_job(cfg, model), PATHS)
        ar = "actor_rollout_ref"
        assert m[f"{ar}.model.custom_chat_template"] is None  # the tokenizer's own chat template
        assert m[f"{ar}.model.use_fused_kernels"] is True and m[f"{ar}.rollout.enforce_eager"] is False
        assert m[f"{ar}.rollout.dtype"] == "bfloat16" and m[f"{ar}.rollout.gpu_memory_utilization"] == 0.3
        assert m[f"{ar}.actor.ppo_mini_batch_size"] == 512 and m[f"{ar}.actor.ppo_micro_batch_size_per_gpu"] == 64
        assert m[f"{ar}.rollout.log_prob_micro_batch_size_per_gpu"] == m[f"{ar}.ref.log_prob_micro_batch_size_per_gpu"]
        assert m[f"{ar}.ref.log_prob_micro_batch_size_per_gpu"] == 64
        assert m[f"{ar}.actor.loss_agg_mode"] == "token-mean" and m[f"{ar}.rollout.n"] == 3
    decoding = {b: (s["max_new_tokens"], s["stop"]) for b, s in cfg["benchmarks"].items()}
    assert decoding == {"gsm8k": (512, []), "math": (1024, []), "mmlu": (256, [])}
    assert cfg["val_loss"]["method"] == "blocks" and cfg["val_loss"]["seq_len"] == cfg["val_loss"]["stride"] == 1024
    assert "seed_custom_flexible" in cfg["benchmarks"]["gsm8k"]["scorers"]


def test_the_embedded_study_keeps_its_prompts_and_settings():
    cfg = rc.load_config(ROOT / "config.yaml")
    assert cfg["prompts"]["style"] == "consistent"
    for rule, wc in [("grpo", {"model": "tiny-m", "seed": "1", "budget": "2M", "reward": "strict"})]:
        assert "prompts" not in rj.job_config(cfg, rule, **wc)
    assert "prompts" not in rj.job_config(cfg, "prepare_data", dataset="fewshot_gsm8k")
    assert not any(s.startswith("seed_") for b in cfg["benchmarks"].values() for s in b["scorers"])
    qwen = rc.load_config(ROOT / "configs" / "qwen3.yaml")
    assert rj.job_config(qwen, "prepare_data", dataset="fewshot_gsm8k")["prompts"] == {"style": "seed"}


def test_seed_style_refuses_few_shot_math_and_blocks_need_equal_stride(tmp_path):
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "qwen3.yaml").read_text())
    cfg["benchmarks"]["math"]["shots"] = [0, 1]
    with pytest.raises(rs.ConfigError, match=r"benchmarks.math.shots: prompts.style seed has a 0-shot MATH"):
        rc.validate_config(cfg)
    cfg = yaml.safe_load((ROOT / "configs" / "qwen3.yaml").read_text())
    cfg["val_loss"]["stride"] = 512
    with pytest.raises(rs.ConfigError, match="val_loss.method blocks needs val_loss.stride"):
        rc.validate_config(cfg)


def test_consistent_style_overrides_keep_the_plain_template():
    cfg = rc.load_config(ROOT / "configs" / "qwen3.yaml")
    cfg["prompts"]["style"] = "consistent"
    assert (
        override_map(*parse_verl_job(cfg, "qwen3-0.6b"), PATHS)["actor_rollout_ref.model.custom_chat_template"]
        == PLAIN_CHAT_TEMPLATE
    )


def test_prompts_command_prints_the_seed_strings(tmp_path, recipe):
    import json

    items, pool = tmp_path / "items.jsonl", tmp_path / "pool.jsonl"
    items.write_text(json.dumps(_gsm8k_row("How many pens? ", "#### 4,000")) + "\n")
    pool.write_text("".join(json.dumps(_gsm8k_row(q, a)) + "\n" for q, a in [(Q1, A1), (Q2, A2)]))
    cmd = [sys.executable, "-m", "rlscaling.cli", "prompts", "--config", str(ROOT / "configs" / "qwen3.yaml")]
    out = subprocess.run(
        [*cmd, "--shots", "1", "--items", str(items), "--pool", str(pool)], capture_output=True, text=True, check=True
    ).stdout
    g3 = recipe[recipe.index("**G3**") :]
    one = _fill(_literal(g3, r"Rendered for k=1:"), recipe, q1=Q1, a1=A1, question="How many pens? ")
    assert repr(one) in out.splitlines() and f"\n{one}\n===== end of prompt 1;" in out
    rl = subprocess.run([*cmd, "--rl", "--items", str(items)], capture_output=True, text=True, check=True).stdout
    assert repr(f"How many pens?  {GSM8K_INSTRUCTION}") in rl and "ground truth '4000'" in rl
    bad = subprocess.run([*cmd, "--shots", "1", "--items", str(items)], capture_output=True, text=True)
    assert bad.returncode == 2 and "needs --pool" in bad.stderr


# ------------------------------------------------------------------------------------------------ val loss


def test_chunked_blocks_concatenate_per_chunk_and_drop_remainders():
    lists = [[1, 2, 3], [], [4, 5], [6, 7, 8, 9, 10]]
    assert chunked_blocks(lists, 2, None) == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
    # chunks of 2 rows: rows 0-1 = [1, 2, 3] -> [1, 2] (3 dropped); rows 2-3 = [4..10] -> 3 blocks (10 dropped)
    assert chunked_blocks(lists, 2, 2) == [[1, 2], [4, 5], [6, 7], [8, 9]]
    assert chunked_blocks(lists, 20, 2) == []


def test_block_losses_are_non_overlapping_forwards_without_special_tokens(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tiny_models import make_tiny_model_dir

    model_dir = str(make_tiny_model_dir(tmp_path / "m"))
    texts = ["12 + 7 = 19.\n", "", " 19 - 5 = 14.\n#### 14 " * 3]
    blocks = block_losses(model_dir, texts, block=8, chunk_rows=None)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = [t for x in texts for t in tok(x, add_special_tokens=False)["input_ids"]]
    assert len(blocks) == len(ids) // 8 and all(b["n_tokens"] == 7 for b in blocks)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    window = torch.tensor([ids[8:16]])
    with torch.no_grad():
        nll = torch.nn.functional.cross_entropy(model(window).logits[0, :-1], window[0, 1:], reduction="sum")
    assert blocks[1]["nll_sum"] == pytest.approx(float(nll), rel=1e-5)


def test_an_evaluation_job_in_seed_style_scores_both_families(tmp_path):
    """evaluate_job end to end (tiny model, transformers): seed prompts, the seed's and the project's scorers from the
    same generations, the seed's ground truth in the records; and val_loss_job in blocks."""
    from rlscaling.evaluation.run import evaluate_job, val_loss_job
    from rlscaling.io import read_json, read_jsonl, write_jsonl

    from tiny_models import make_tiny_model_dir

    model_dir = make_tiny_model_dir(tmp_path / "m")
    write_jsonl(tmp_path / "items.jsonl", [ITEM])
    write_jsonl(tmp_path / "pool.jsonl", POOL)
    scorers = ["custom_flexible", "seed_strict", "seed_custom_flexible"]
    spec = {"kind": "gsm8k", "scorers": scorers, "max_new_tokens": 4, "max_prompt_tokens": None, "stop": []}
    cfg = {
        "seed": 1,
        "prompts": {"style": "seed"},
        "benchmarks": {"gsm8k": spec},
        "evaluate": {"backend": "transformers", "batch_size": 2, "pass_at_k": None},
    }
    paths = {k: tmp_path / f"out.{k}" for k in ("records", "summary")}
    summary = evaluate_job(
        cfg,
        model_dir,
        0,
        "gsm8k",
        1,
        tmp_path / "items.jsonl",
        tmp_path / "pool.jsonl",
        paths["records"],
        paths["summary"],
    )
    assert set(summary["accuracy"]) == set(scorers) and read_json(paths["summary"])["scorers"] == scorers
    [record] = read_jsonl(paths["records"])
    assert record["seed_answer"] == "4,000" and record["answer"] == "4000" and set(record["score"]) == set(scorers)
    texts = tmp_path / "texts.jsonl"
    write_jsonl(
        texts, [{"id": f"l{i}", "text": t, "split": "validation"} for i, t in enumerate(["12 + 7 = 19.\n", ""] * 4)]
    )
    vl = {"val_loss": {"method": "blocks", "seq_len": 8, "stride": 8, "chunk_rows": 2}}
    out = val_loss_job(vl, model_dir, 0, texts, tmp_path / "vl.json")
    docs = read_json(tmp_path / "vl.json")["documents"]
    assert docs and all(d["n_tokens"] == 7 and d["id"].startswith("block-") for d in docs)
    assert out["n_tokens"] == 7 * len(docs)


def test_grpo_rows_in_seed_style_and_the_trl_chat_rendering(tmp_path):
    from rlscaling.io import write_jsonl
    from rlscaling.training.run import chat_rendered, rl_rows

    write_jsonl(tmp_path / "rl.jsonl", [ITEM])
    settings = {"seed": 3, "data": {"rl_train": {"source": "hf:gsm8k", "instruction": False}}}
    [plain] = rl_rows(settings, tmp_path / "rl.jsonl")
    want = {"prompt": "Question: How many pens?\nAnswer:", "answer": "4000", "id": ITEM["id"], "kind": "gsm8k"}
    assert plain == {**want, "reward_mode": None}  # settings without grpo.reward_mode: the run's reward decides
    [row] = rl_rows({**settings, "prompts": {"style": "seed"}}, tmp_path / "rl.jsonl")
    assert row["prompt"] == f"How many pens?  {GSM8K_INSTRUCTION}" and row["answer"] == "4000"
    assert row["data_source"] == "custom/gsm8k"

    class ChatTokenizer:
        chat_template = "<user>{content}</user><assistant>"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert tokenize is False and add_generation_prompt is True and len(messages) == 1
            return self.chat_template.format(content=messages[0]["content"])

    [chat] = chat_rendered([row], ChatTokenizer())
    assert chat["prompt"] == f"<user>{row['prompt']}</user><assistant>" and chat["answer"] == "4000"
    plain_tokenizer = type("NoTemplate", (), {"chat_template": None})()
    assert chat_rendered([row], plain_tokenizer) == [row]  # no template (the embedded tokenizers): plain text
