"""transformers generation backend: left-padded batching, order, sampling, token counts, stop strings, strided loss."""

from __future__ import annotations

import math

import pytest
import torch

from rlscaling.data.tokenizer import train_tokenizer
from rlscaling.evaluation.perplexity import strided_windows
from rlscaling.evaluation.stopping import (
    StopOnText,
    check_stop,
    completing_tokens,
    cut_at_stop,
    stop_token_count,
)
from rlscaling.evaluation.transformers_backend import (
    _response_length,
    generate,
    generate_with_stats,
    sequence_loss,
)
from rlscaling.models.pretrain import pretrain

from tiny_models import make_char_tokenizer

# Short documents, each ended by EOS at packing: the model learns to finish them and then emit EOS.
DOCS = ["the cat sat", "a dog ran far", "1 2 3 4 5 6", "we go home now"] * 40
ARCH = {
    "hidden_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 96,
}
PROMPTS = ["the cat", "1 2 3", "a", "we go home", "1 2 3 4", "a dog", "the"]
# A base model in "instruction collapse": after its answer it invents new "Question: ... Answer: ..." problems.
COLLAPSE_DOCS = [
    "Answer: 7\nQuestion: 5 + 1\nAnswer: 6\nQuestion: 2 + 2\nAnswer: 4",
    "Answer: 9\nQuestion: 8 + 3\nAnswer: 11",
] * 40
COLLAPSE_PROMPTS = ["Answer:", "Answer: 9", "Question: 5", "Answer: 6\nQuestion:", "Question: 8 +"]


def _pretrained(root, docs, vocab_size: int):
    """A tokenizer (``vocab_size`` entries) and a tiny model pre-trained on ``docs`` for 120 steps of 8 x 32 tokens."""
    train_tokenizer(docs, vocab_size, root / "tok")
    pretrain(docs, root / "tok", ARCH, 120 * 8 * 32, root / "model", seq_len=32, batch_size=8, lr=1e-2,
             warmup_fraction=0.05, seed=0, threads=1, val_fraction=0.05)  # fmt: skip
    return root / "model"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gen")
    return _pretrained(root, DOCS, vocab_size=48)


@pytest.fixture(scope="module")
def collapse_dir(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("collapse")
    return _pretrained(root, COLLAPSE_DOCS, vocab_size=64)


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
    with pytest.raises(ValueError, match="prompt 1: .* exceed the model's max_position_embeddings"):
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
        logits = model(input_ids=x[:, begin:end]).logits[0, first - begin - 1 : -1]
        expected += torch.nn.functional.cross_entropy(logits, x[0, first:end], reduction="sum").item()
    assert disjoint["n_tokens"] == len(ids) - 1
    assert disjoint["loss"] == pytest.approx(expected / (len(ids) - 1), rel=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Stop strings (vLLM SamplingParams(stop=...) semantics)
# ---------------------------------------------------------------------------------------------------------


def _tokens_until(model_dir, prompts, needle, max_k=24):
    """Per prompt, the smallest max_new_tokens whose greedy text contains ``needle`` (None if none up to max_k):
    a black-box count of the tokens up to and including the one that completes it."""
    found = [None] * len(prompts)
    for k in range(1, max_k + 1):
        for i, (o,) in enumerate(generate(model_dir, prompts, max_new_tokens=k)):
            if found[i] is None and any(s in o["text"] for s in needle):
                found[i] = k
        if all(f is not None for f in found):
            break
    return found


def test_stop_at_question_cuts_invented_follow_up_problems(collapse_dir):
    stop = ("Question:",)
    free = generate(collapse_dir, COLLAPSE_PROMPTS, max_new_tokens=24, batch_size=len(COLLAPSE_PROMPTS))
    cut = generate(collapse_dir, COLLAPSE_PROMPTS, max_new_tokens=24, batch_size=len(COLLAPSE_PROMPTS), stop=stop)
    assert sum("Question:" in o["text"] for (o,) in free) >= 3  # the trained model does invent new problems
    expected_tokens = _tokens_until(collapse_dir, COLLAPSE_PROMPTS, stop)
    for prompt, (f,), (c,), n in zip(COLLAPSE_PROMPTS, free, cut, expected_tokens):
        at = f["text"].find("Question:")
        if at < 0:  # no stop string in the continuation (a prompt that ENDS in "Question:" is not cut)
            assert c == f, prompt
        else:
            assert c["text"] == f["text"][:at] and "Question" not in c["text"], prompt
            assert c["response_tokens"] == n < f["response_tokens"], prompt
        assert c["prompt_tokens"] == f["prompt_tokens"]
    assert cut[0][0]["text"].rstrip() and cut[0][0]["text"].endswith("\n")  # " 6\n": the answer, then the cut


@pytest.mark.parametrize("stop", [("2 + 2",), ("Quest",), ("n: 8",), ("Answer", "\n"), ("+ 1\nA", "1\nAns")])
def test_stop_strings_spanning_tokens_and_the_earliest_of_several(collapse_dir, stop):
    """Digits are single tokens ("2 + 2" spans 4), "Quest" ends inside the token "Question", "n: 8" spans 4 tokens;
    with several stop strings the earliest occurrence wins."""
    free = generate(collapse_dir, COLLAPSE_PROMPTS, max_new_tokens=24, batch_size=2)
    cut = generate(collapse_dir, COLLAPSE_PROMPTS, max_new_tokens=24, batch_size=2, stop=stop)
    expected_tokens = _tokens_until(collapse_dir, COLLAPSE_PROMPTS, stop)
    assert any(n is not None for n in expected_tokens)
    for (f,), (c,), n in zip(free, cut, expected_tokens):
        assert c["text"] == cut_at_stop(f["text"], stop)
        assert c["response_tokens"] == (f["response_tokens"] if n is None else n)


def test_stop_with_sampling_cuts_each_sample(collapse_dir):
    # One batch: a stopped batch ends early and draws fewer random numbers, so later batches' samples would differ.
    kwargs = {"max_new_tokens": 20, "batch_size": 9, "num_samples": 3, "temperature": 1.5, "seed": 3}
    free = generate(collapse_dir, COLLAPSE_PROMPTS[:3], **kwargs)
    cut = generate(collapse_dir, COLLAPSE_PROMPTS[:3], stop=("\nQuestion:",), **kwargs)
    n_cut = 0
    for samples_free, samples_cut in zip(free, cut):
        for f, c in zip(samples_free, samples_cut):
            assert c["text"] == cut_at_stop(f["text"], ("\nQuestion:",))
            assert c["response_tokens"] <= f["response_tokens"]
            n_cut += c["text"] != f["text"]
    assert n_cut > 0


def test_stop_that_never_occurs_changes_nothing(model_dir):
    for kwargs in ({}, {"num_samples": 3, "temperature": 3.0, "seed": 1}):
        free, stats_free = generate_with_stats(model_dir, PROMPTS, max_new_tokens=8, batch_size=3, **kwargs)
        same, stats_same = generate_with_stats(
            model_dir, PROMPTS, max_new_tokens=8, batch_size=3, stop=("Question:",), **kwargs
        )
        assert same == free and stats_same.response_tokens == stats_free.response_tokens


def test_check_stop_rejects_a_bare_string_and_empty_strings():
    assert check_stop(()) == () and check_stop(["a", "Question:"]) == ("a", "Question:")
    with pytest.raises(TypeError, match="sequence of strings"):
        check_stop("Question:")
    with pytest.raises(ValueError, match="non-empty"):
        check_stop(["Question:", ""])
    with pytest.raises(TypeError, match="must be a str"):
        check_stop([None])


def test_stop_token_count_and_cut_with_a_character_tokenizer():
    char_tok = make_char_tokenizer()
    text = "7.\nQuestion: 1+1\nAnswer: 2"
    ids = char_tok(text)["input_ids"]

    def decode(part):
        return char_tok.decode(part, skip_special_tokens=True)

    assert decode(ids) == text
    assert stop_token_count(decode, ids, ("Question:",)) == text.index("Question:") + len("Question:")
    assert stop_token_count(decode, ids, ("Answer:", "1+1")) == text.index("1+1") + 3  # the first one completed
    assert stop_token_count(decode, ids, ("nope",)) is None and stop_token_count(decode, ids, ()) is None
    assert cut_at_stop(text, ("Answer", "\n")) == "7."  # earliest occurrence, whichever string
    assert cut_at_stop(text, ("zz",)) == text


def test_stop_criterion_flags_rows_per_sequence_and_ignores_the_prompt():
    char_tok = make_char_tokenizer()
    rows = {  # the first 10 positions (left padding included) are the prompt
        "Question: abcdefghi": False,  # the stop string is only in the prompt
        "0123456789Question:": True,  # completed by the newest token
        "012345Question:abcd": False,  # starts in the prompt, then more text
        "56789ion:": False,  # left-padded row: its continuation "ion:" alone is no stop string
        "0123456Question:": True,  # left-padded row: its prompt is "0123456"
        "0123456789xQuestio:": False,
    }
    width = max(map(len, rows))
    ids = torch.tensor([[char_tok.pad_token_id] * (width - len(r)) + char_tok(r)["input_ids"] for r in rows])
    crit = StopOnText(char_tok, ("Question:",), prompt_len=10)
    assert crit(ids, None).tolist() == list(rows.values())
    assert crit(ids[:, :-1], None).tolist() == [False] * len(rows)  # one token earlier nothing is complete
    mask = completing_tokens(char_tok, ("Question:",))
    assert mask.tolist() == [":" in char_tok.decode([i]) for i in range(len(char_tok))] and mask.sum() == 1
