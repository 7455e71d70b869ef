"""Tokenizer, corpus, tiny Qwen3 configs/parameter counts and pre-training (tiny configs, tens of steps)."""

from __future__ import annotations

import json
import random
import re

import pytest
import torch

from rlscaling.data.corpus import (
    CorpusSource,
    build_pretrain_corpus,
    corpus_options,
    corrupt_one_digit,
    drop_worked_steps,
    format_block,
    sign_slip_block,
)
from rlscaling.data.tokenizer import train_tokenizer
from rlscaling.models.pretrain import block_order, pack_blocks, pretrain, split_documents
from rlscaling.models.tiny import non_embedding_params, tiny_qwen3_config, total_params

TEXTS = [
    f"Question: What is {a} + {b} - {c}?\nAnswer: {a} + {b} = {a + b}. {a + b} - {c} = {a + b - c}.\n#### {a + b - c}"
    for a, b, c in [(12, 7, 5), (3, 48, 60), (95, 5, 0), (1, 2, 3), (44, 56, 7)]
] * 20
TINY_ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 64,
}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    train_tokenizer(TEXTS, 64, out)
    return out


# ----------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_round_trip_digits_and_special_tokens(tok_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    text = "Question: What is 907 + 68?\nAnswer: 907 + 68 = 975.\n#### 975\n\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    pieces = [tok.decode([i]) for i in ids]
    assert [p for p in pieces if any(c.isdigit() for c in p)] == [c for c in text if c.isdigit()], pieces
    assert tok.eos_token == tok.bos_token == "<|endoftext|>"
    assert tok.pad_token == "<|pad|>" and tok.pad_token_id != tok.eos_token_id
    assert tok("1 + 1")["input_ids"] == tok("1 + 1", add_special_tokens=False)["input_ids"]  # nothing prepended
    assert len(tok) <= 64


def test_tokenizer_vocab_too_small_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="tokenizer.vocab_size=8"):
        train_tokenizer(TEXTS, 8, tmp_path / "t")
    assert not (tmp_path / "t").exists()


# ----------------------------------------------------------------------------------------------- corpus


def test_corrupt_one_digit_changes_exactly_one_worked_digit():
    solution = "12 + 7 = 19. 19 - 5 = 14.\n#### 14"
    rng = random.Random(0)
    for _ in range(50):
        noisy = corrupt_one_digit(solution, rng)
        assert noisy.endswith("\n#### 14") and len(noisy) == len(solution)
        diff = [i for i, (a, b) in enumerate(zip(solution, noisy)) if a != b]
        assert len(diff) == 1 and noisy[diff[0]].isdigit()
        assert solution[: diff[0]].rstrip("0123456789").endswith("= ")  # inside a worked result
    assert corrupt_one_digit("#### 3", rng) == "#### 3"


def test_corpus_documents_are_multi_question_and_never_eval_questions():
    from rlscaling.data.procedural import assigned_split

    docs = build_pretrain_corpus(40, seed=7)
    assert docs == build_pretrain_corpus(40, seed=7)
    assert docs != build_pretrain_corpus(40, seed=8)
    n_blocks = [d.count("Question: ") for d in docs]
    assert len(docs) == 40 and min(n_blocks) >= 2 and max(n_blocks) <= 6
    questions = [b.split("\n", 1)[0].removeprefix("Question: ") for d in docs for b in d.split("\n\n")]
    assert all(assigned_split(q) == "train" for q in questions)
    assert all(d.count("#### ") == n for d, n in zip(docs, n_blocks))


def _wrong_steps(block: str) -> int:
    steps = re.findall(r"(-?\d+) ([+-]) (-?\d+) = (-?\d+)\.", block.split("\nAnswer: ", 1)[1])
    return sum(int(a) + (int(b) if op == "+" else -int(b)) != int(c) for a, op, b, c in steps)


def test_corpus_noise_fraction_controls_wrong_worked_steps():
    mixture = (CorpusSource("procedural:chain_sum?terms=2-3&digits=1-2", 1.0, 50),)
    clean = build_pretrain_corpus(20, seed=1, mixture=mixture, noise=0.0)
    noisy = build_pretrain_corpus(20, seed=1, mixture=mixture, noise=1.0)
    assert all(_wrong_steps(b) == 0 for d in clean for b in d.split("\n\n"))
    assert all(_wrong_steps(b) == 1 for d in noisy for b in d.split("\n\n"))
    with pytest.raises(ValueError, match="noise must be a fraction"):
        build_pretrain_corpus(2, seed=1, mixture=mixture, noise=1.5)


def test_drop_worked_steps_keeps_question_and_final_line():
    block = format_block("What is 1 + 2 + 3?", "1 + 2 = 3. 3 + 3 = 6.\n#### 6")
    assert drop_worked_steps(block) == "Question: What is 1 + 2 + 3?\nAnswer: #### 6"
    assert drop_worked_steps("Question: x\nAnswer: #### 6") == "Question: x\nAnswer: #### 6"
    assert drop_worked_steps("no answer here") == "no answer here"


def _blocks(docs):
    return [b for d in docs for b in d.split("\n\n")]


def test_answer_only_share_per_source_and_corpus_wide():
    two = CorpusSource("procedural:chain_sum?terms=2&digits=1", 1.0, 40)
    three = CorpusSource("procedural:chain_sum?terms=3&digits=1", 1.0, 40, answer_only=1.0)
    blocks = _blocks(build_pretrain_corpus(60, seed=3, mixture=(two, three), noise=0.0))
    worked = [b for b in blocks if " = " in b]
    assert worked and all(b.count(" = ") == 1 for b in worked)  # every 2-term block keeps its step
    direct = [b for b in blocks if " = " not in b]
    assert direct and all(b.count("+") + b.count(" - ") == 2 and "\nAnswer: #### " in b for b in direct)
    half = _blocks(build_pretrain_corpus(300, seed=3, mixture=(two,), noise=0.0, answer_only=0.5))
    share = sum(" = " not in b for b in half) / len(half)
    assert 0.4 < share < 0.6
    assert build_pretrain_corpus(20, seed=3, mixture=(two,)) == build_pretrain_corpus(
        20, seed=3, mixture=(two,), answer_only=0.0
    )
    with pytest.raises(ValueError, match="answer_only must be a fraction"):
        build_pretrain_corpus(2, seed=1, mixture=(CorpusSource(two.spec, 1.0, 5, answer_only=2.0),))


def test_sign_slip_block_rewrites_only_chains_with_negative_steps():
    block = format_block("What is 3 - 5 - 6?", "3 - 5 = -2. -2 - 6 = -8.\n#### -8")
    assert sign_slip_block(block) == "Question: What is 3 - 5 - 6?\nAnswer: 3 - 5 = 2. 2 - 6 = 4.\n#### 4"
    positive = format_block("What is 3 + 5 - 6?", "3 + 5 = 8. 8 - 6 = 2.\n#### 2")
    assert sign_slip_block(positive) == positive
    other = "Question: Tom has 3 apples and eats 5. How many are left?\nAnswer: 3 - 5 = -2.\n#### -2"
    assert sign_slip_block(other) == other


def _has_negative_step(block: str) -> bool:
    from rlscaling.data.procedural import render_steps

    return "= -" in render_steps(block.split("What is ", 1)[1].split("?", 1)[0])[0]


def test_sign_slip_share_of_negative_chain_solutions():
    mixture = (CorpusSource("procedural:chain_sum?terms=3&digits=1", 1.0, 300),)
    slipped = _blocks(build_pretrain_corpus(200, seed=4, mixture=mixture, noise=0.0, sign_slip=1.0))
    assert sum(map(_has_negative_step, slipped)) > 100
    assert all("= -" not in b and "#### -" not in b and sign_slip_block(b) == b for b in slipped)
    mixed = _blocks(build_pretrain_corpus(400, seed=4, mixture=mixture, noise=0.0, sign_slip=0.6))
    negative = [b for b in mixed if _has_negative_step(b)]
    share = sum("= -" not in b for b in negative) / len(negative)
    assert 0.5 < share < 0.7
    assert all(_wrong_steps(b) == 0 for b in mixed if b not in negative or "= -" in b)
    assert build_pretrain_corpus(20, seed=3, mixture=mixture) == build_pretrain_corpus(
        20, seed=3, mixture=mixture, sign_slip=0.0
    )
    with pytest.raises(ValueError, match="sign_slip must be a fraction"):
        build_pretrain_corpus(2, seed=1, mixture=mixture, sign_slip=1.5)


def test_corpus_options_read_the_config_section():
    assert corpus_options({"sign_slip": 0.6})["sign_slip"] == 0.6
    opts = corpus_options(
        {
            "n_documents": 12,
            "seed": 5,
            "noise": 0.2,
            "answer_only": 0.1,
            "blocks_per_document": [1, 3],
            "mixture": [
                {"source": "procedural:chain_sum?terms=2&digits=1", "weight": 2, "pool": 9},
                {"source": "procedural:chain_sum?terms=3&digits=1", "weight": 1, "pool": 7, "answer_only": 0.6},
            ],
        }
    )
    assert opts["n_documents"] == 12 and opts["seed"] == 5 and opts["noise"] == 0.2 and opts["answer_only"] == 0.1
    assert opts["blocks_per_document"] == (1, 3)
    assert opts["mixture"][0] == CorpusSource("procedural:chain_sum?terms=2&digits=1", 2.0, 9)
    assert opts["mixture"][1].answer_only == 0.6
    assert "mixture" not in corpus_options({"n_documents": 3})


def test_format_block_is_the_fewshot_layout():
    expected = "Question: What is 1 + 2?\nAnswer: 1 + 2 = 3.\n#### 3"
    assert format_block("What is 1 + 2?", "1 + 2 = 3.\n#### 3") == expected


# ----------------------------------------------------------------------------------------------- models


def test_non_embedding_params_matches_hand_count(tok_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    arch = {
        "hidden_size": 48,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 96,
    }
    config = tiny_qwen3_config(arch, tok, 128)
    h, L, nh, nkv, inter = 48, 3, 4, 2, 96
    hd = h // nh
    attention = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 2 * hd  # q, k, v, o projections + q/k norms
    per_layer = attention + 3 * h * inter + 2 * h  # + gate/up/down MLP + 2 RMSNorms
    expected = L * per_layer + h  # + final norm
    assert non_embedding_params(config) == expected
    assert total_params(config) == expected + len(tok) * h  # tied head counted once
    assert config.tie_word_embeddings and config.head_dim == hd and config.max_position_embeddings == 128


def test_tiny_config_rejects_bad_arch(tok_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    with pytest.raises(ValueError, match="missing keys \\['intermediate_size'\\]"):
        tiny_qwen3_config({k: v for k, v in TINY_ARCH.items() if k != "intermediate_size"}, tok, 64)
    with pytest.raises(ValueError, match="not divisible"):
        tiny_qwen3_config({**TINY_ARCH, "num_key_value_heads": 3}, tok, 64)


# ----------------------------------------------------------------------------------------------- pretrain


def test_pack_blocks_and_split_documents():
    blocks = pack_blocks([[1, 2, 3], [4, 5]], eos_id=0, seq_len=3)
    assert blocks.tolist() == [[1, 2, 3], [0, 4, 5]]  # the trailing EOS is the dropped tail
    with pytest.raises(ValueError, match="fewer than one block"):
        pack_blocks([[1]], eos_id=0, seq_len=8)
    train, val = split_documents(list("abcdefghij"), 0.15)
    assert train == list("abcdefgh") and val == list("ij")
    order = block_order(4, 10, torch.Generator().manual_seed(0))
    assert len(order) == 10
    assert sorted(order[:4].tolist()) == [0, 1, 2, 3] and sorted(order[4:8].tolist()) == [0, 1, 2, 3]


def _run(tok_dir, out, seed=0, tokens=60 * 4 * 32):
    return pretrain(
        TEXTS,
        tok_dir,
        TINY_ARCH,
        tokens,
        out,
        seq_len=32,
        batch_size=4,
        lr=1e-2,
        warmup_fraction=0.1,
        seed=seed,
        threads=1,
        val_fraction=0.1,
    )


def test_pretrain_learns_saves_loadable_model_and_records_its_flops(tok_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    summary = _run(tok_dir, tmp_path / "base")
    assert summary["tokens_trained"] == 60 * 4 * 32 and summary["steps"] == 60
    n, h = summary["n_params_non_embedding"], summary["head_params"]
    assert summary["c_pretrain_flops"] == 6.0 * (n + h) * summary["tokens_trained"]
    assert summary["head_flops_share"] == h / (n + h)
    assert summary["final_train_loss"] < 0.5 * summary["first_train_loss"]  # a trivially learnable corpus
    assert summary["val_loss"] < summary["first_train_loss"]
    on_disk = json.loads((tmp_path / "base" / "pretrain.json").read_text())
    assert on_disk == summary
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "base"))
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "base"))
    assert non_embedding_params(model) == summary["n_params_non_embedding"]
    assert h == model.config.hidden_size * model.config.vocab_size  # the (tied) head: d_model x V
    assert model.config.eos_token_id == tok.eos_token_id and model.config.max_position_embeddings == 32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_pretrain_is_deterministic_for_a_seed(tok_dir, tmp_path):
    tokens = 6 * 4 * 32
    a = _run(tok_dir, tmp_path / "a", seed=3, tokens=tokens)
    b = _run(tok_dir, tmp_path / "b", seed=3, tokens=tokens)
    c = _run(tok_dir, tmp_path / "c", seed=4, tokens=tokens)
    assert a["final_train_loss"] == b["final_train_loss"] and a["val_loss"] == b["val_loss"]
    assert a["final_train_loss"] != c["final_train_loss"]


def test_pretrain_rounds_budget_to_whole_blocks_and_rejects_tiny_budget(tok_dir, tmp_path):
    s = _run(tok_dir, tmp_path / "r", tokens=3.4 * 32)
    assert s["tokens_trained"] == 3 * 32 and s["steps"] == 1 and s["tokens_budget"] == pytest.approx(3.4 * 32)
    with pytest.raises(ValueError, match="less than one seq_len"):
        _run(tok_dir, tmp_path / "x", tokens=10)
