"""Hub base models for the production study: the ``pretrain`` rule with ``pretrain.backend: hub``.

Nothing is pre-trained; the model is copied from the Hugging Face hub (or its local cache) into
``results/models/<model>/<budget>/base`` so that every later rule loads a local directory, exactly as it loads an
embedded-study model, and ``pretrain.json`` records N (non-embedding parameters, from the config) and D (tokens,
from the budget) for ``C_pretrain = 6·N·D``.
"""

from __future__ import annotations

import os
import shutil

from .compute import pretrain_flops
from .io import atomic_dir, write_json


class HubModelError(RuntimeError):
    """The hub model is neither cached nor downloadable; the message says what to do."""


def fetch_hub_model(hf_id: str, out_dir, n_params: float, tokens: float) -> dict:
    """Copy ``hf_id`` (config, tokenizer, weights) into ``out_dir`` atomically and write ``pretrain.json``."""
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        cached = snapshot_download(hf_id, local_files_only=offline,
                                   allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"])
    except Exception as exc:  # noqa: BLE001 - one clear message instead of a hub traceback
        hint = ("HF_HUB_OFFLINE=1 and the model is not in the local cache: run the study once with `offline: false` "
                "on a node with internet access (or `huggingface-cli download` it), then rerun")
        raise HubModelError(f"cannot fetch '{hf_id}': {hint if offline else exc}") from None
    info = {"source": "hub", "hf_id": hf_id, "n_params_non_embedding": float(n_params),
            "tokens_trained": float(tokens), "c_pretrain_flops": pretrain_flops(n_params, tokens)}
    with atomic_dir(out_dir) as tmp:
        shutil.copytree(cached, tmp, dirs_exist_ok=True, symlinks=False)
        write_json(tmp / "pretrain.json", info)
    return info
