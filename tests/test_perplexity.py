"""Per-document strided validation loss: windows cover every token once and match a direct forward pass."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlscaling.evaluation.perplexity import document_losses, strided_windows

from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(make_tiny_model_dir(tmp_path_factory.mktemp("ppl")))


def _direct(model_dir, text):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = tok(text, return_tensors="pt").input_ids[0]
    if tok.bos_token_id is not None and ids[0] != tok.bos_token_id:
        ids = torch.cat([torch.tensor([tok.bos_token_id]), ids])
    with torch.no_grad():
        logits = model(ids[None]).logits[0, :-1]
    return float(torch.nn.functional.cross_entropy(logits, ids[1:], reduction="sum")), ids.numel() - 1


def test_one_window_equals_direct_forward(model_dir):
    text = "Question: What is 3 + 4?\nAnswer: 3 + 4 = 7.\n#### 7"
    [d] = document_losses(model_dir, [text], seq_len=128, stride=64)
    nll, n = _direct(model_dir, text)
    assert d["n_tokens"] == n
    assert d["nll_sum"] == pytest.approx(nll, rel=1e-5)


def test_strided_windows_score_every_token_once(model_dir):
    text = "12 + 7 = 19. 19 - 5 = 14.\n#### 14 " * 3
    _, n = _direct(model_dir, text)
    for seq_len, stride in [(16, 8), (16, 16), (9, 4)]:
        [d] = document_losses(model_dir, [text], seq_len=seq_len, stride=stride)
        assert d["n_tokens"] == n
    with pytest.raises(ValueError, match="stride"):
        document_losses(model_dir, [text], seq_len=8, stride=9)


@pytest.mark.parametrize("n, seq_len, stride", [(2, 8, 4), (40, 16, 8), (40, 16, 16), (41, 9, 4), (5, 3, 1)])
def test_strided_windows_target_every_token_once_with_the_stated_context(n, seq_len, stride):
    windows = strided_windows(n, seq_len, stride)
    targets = [t for _, end, first in windows for t in range(first, end)]
    assert targets == list(range(1, n))
    for k, (begin, end, first) in enumerate(windows):
        assert 0 <= begin < first <= end <= n and end - begin <= seq_len
        if k:
            assert first - begin == max(seq_len - stride, 1)
    with pytest.raises(ValueError, match="stride"):
        strided_windows(10, 4, 5)


def test_document_losses_builds_no_autograd_graph(model_dir, monkeypatch):
    """Every forward runs with grad disabled and returns logits without a ``grad_fn`` (no graph is kept)."""
    import rlscaling.models.tiny

    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.config = inner, inner.config

        def forward(self, *args, **kwargs):
            out = self.inner(*args, **kwargs)
            seen.append((torch.is_grad_enabled(), out.logits.grad_fn is None))
            return out

    real = rlscaling.models.tiny.load_causal_lm
    monkeypatch.setattr(rlscaling.models.tiny, "load_causal_lm", lambda *a, **k: Recorder(real(*a, **k)))
    assert any(p.requires_grad for p in real(model_dir).parameters())  # a graph WOULD be built with grad on
    document_losses(model_dir, ["12 + 7 = 19. 19 - 5 = 14.\n#### 14"] * 2, seq_len=16, stride=8)
    assert len(seen) > 2 and seen == [(False, True)] * len(seen)
