"""transformers generation backend: left-padded batching, order, sampling, token counts, strided loss."""

from __future__ import annotations

import math

import pytest
import torch

from rlscaling.evaluation.perplexity import strided_windows
from rlscaling.evaluation.transformers_backend import _response_length, generate, generate_with_stats, sequence_loss
from rlscaling.pretrain import pretrain
from rlscaling.tokenizer import train_tokenizer

# Short documents, each ended by EOS at packing: the model learns to finish them and then emit EOS.
DOCS = ["the cat sat", "a dog ran far", "1 2 3 4 5 6", "we go home now"] * 40
ARCH = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 96}
PROMPTS = ["the cat", "1 2 3", "a", "we go home", "1 2 3 4", "a dog", "the"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gen")
    train_tokenizer(DOCS, 48, root / "tok")
    pretrain(DOCS, root / "tok", ARCH, 120 * 8 * 32, root / "model", seq_len=32, batch_size=8, lr=1e-2,
             warmup_fraction=0.05, seed=0, threads=1, val_fraction=0.05)
    return root / "model"


@pytest.fixture(scope="module")
def tok(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


def test_batched_left_padded_greedy_equals_unbatched(model_dir):
    batched = generate(model_dir, PROMPTS, max_new_tokens=8, batch_size=len(PROMPTS))
    for i, prompt in enumerate(PROMPTS):
        alone = generate(model_dir, [prompt], max_new_tokens=8, batch_size=1)
        assert batched[i] == alone[0], (i, prompt)


def test_order_restored_and_counts(model_dir, tok):
    out = generate(model_dir, PROMPTS, max_new_tokens=8, batch_size=3)
    assert len(out) == len(PROMPTS) and all(len(o) == 1 for o in out)
    for prompt, (o,) in zip(PROMPTS, out):
        assert o["prompt_tokens"] == len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert 1 <= o["response_tokens"] <= 8
    # The trained model completes "the cat" and then stops at EOS, which counts as a response token.
    assert out[0][0]["text"] == " sat"
    assert out[0][0]["response_tokens"] == len(tok(" sat", add_special_tokens=False)["input_ids"]) + 1
    assert out[5][0]["text"].startswith(" ran far")


def test_response_length_stops_at_first_eos_and_ignores_padding():
    eos, pad = 0, 1
    assert _response_length(torch.tensor([5, 6, 0, 1, 1]), eos, pad) == 3
    assert _response_length(torch.tensor([5, 0, 7, 0]), eos, pad) == 2
    assert _response_length(torch.tensor([5, 6, 7]), eos, pad) == 3
    assert _response_length(torch.tensor([5, 6, 7]), eos_id=7, pad_id=7) == 3


def test_sampling_gives_n_different_seeded_samples(model_dir):
    prompts = ["a", "the"]
    kwargs = dict(max_new_tokens=6, batch_size=4, num_samples=5, temperature=3.0)
    out = generate(model_dir, prompts, seed=1, **kwargs)
    assert [len(o) for o in out] == [5, 5]
    assert len({s["text"] for s in out[0]}) > 1  # a hot temperature over a tiny vocabulary varies
    assert generate(model_dir, prompts, seed=1, **kwargs) == out
    greedy = generate(model_dir, prompts, max_new_tokens=6, num_samples=3)
    assert all(len(o) == 3 and o[0] == o[1] == o[2] for o in greedy)


def test_stats_and_too_long_prompt_names_the_prompt(model_dir):
    out, stats = generate_with_stats(model_dir, PROMPTS[:2], max_new_tokens=4)
    assert stats.response_tokens == sum(o[0]["response_tokens"] for o in out) and stats.wall_s > 0
    long_prompt = " ".join(["the cat sat"] * 10)  # > 32 positions with the new tokens
    with pytest.raises(ValueError, match="prompt 1 has"):
        generate(model_dir, ["a", long_prompt], max_new_tokens=4)


def test_sequence_loss_matches_a_direct_forward(model_dir, tok):
    from transformers import AutoModelForCausalLM

    texts = ["the cat sat", "a dog ran far"]
    ids = tok(texts[0], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids += tok(texts[1], add_special_tokens=False)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    x = torch.tensor([ids])
    direct = model(input_ids=x, labels=x).loss.item()
    whole = sequence_loss(model_dir, texts, seq_len=32, stride=32)
    assert whole["n_tokens"] == len(ids) - 1 and whole["loss"] == pytest.approx(direct, rel=1e-5)
    strided = sequence_loss(model_dir, texts, seq_len=4, stride=2)
    assert strided["n_tokens"] == len(ids) - 1 and math.isfinite(strided["loss"])
    assert strided["loss"] > whole["loss"]  # less context per scored token
    # stride == seq_len: each window re-reads one token, so the boundary tokens are scored (with one token of context)
    disjoint = sequence_loss(model_dir, texts, seq_len=4, stride=4)
    expected = 0.0
    for begin, end, first in strided_windows(len(ids), 4, 4):
        logits = model(input_ids=x[:, begin:end]).logits[0, first - begin - 1:-1]
        expected += torch.nn.functional.cross_entropy(logits, x[0, first:end], reduction="sum").item()
    assert disjoint["n_tokens"] == len(ids) - 1
    assert disjoint["loss"] == pytest.approx(expected / (len(ids) - 1), rel=1e-5)
