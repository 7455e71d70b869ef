"""Hub base models: the ``pretrain`` rule with ``pretrain.backend: hub``, and how every job finds their weights.

Nothing is pre-trained and nothing is copied. A budget of a hub model names a repository (``hf_id``), a
``revision`` (branch, tag or commit) and the tokens that checkpoint was trained on. The base-model job downloads
that (model, revision) once into the Hugging Face cache and writes into ``results/models/<model>/<budget>/base``
only a pointer, :data:`POINTER_FILE`, recording the resolved commit, ``N`` (non-embedding parameters), ``H`` (the
output head's parameters, ``d_model · V`` from the checkpoint's config.json) and ``D`` (tokens) for
``C_pretrain = 6·(N + H)·D`` (:mod:`rlscaling.compute`).

Every consumer (GRPO, evaluation, validation loss) calls :func:`resolve_model_path` on a model directory: a
directory holding ``config.json`` (an embedded-study model, a GRPO checkpoint) is used as is; a pointer directory
resolves to the cached snapshot of exactly the recorded commit, without network access. That local snapshot path
is what transformers, vLLM and verl (``actor_rollout_ref.model.path``) load, so no loader needs a ``revision``.

This module imports neither torch nor transformers at import time (``resolve_model_path`` runs in the vLLM and
verl environments too); ``huggingface_hub`` is imported inside the functions that use it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rlscaling.compute import pretrain_record
from rlscaling.io import atomic_dir, read_json, write_json

POINTER_FILE = "pretrain.json"
DEFAULT_REVISION = "main"
# What the base-model job downloads: config, tokenizer, generation config and safetensors weights. Repositories
# that ship only PyTorch ``.bin`` weights get those in a second pass (see :func:`download_revision`).
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken", "*.py")
BIN_WEIGHT_PATTERNS = ("pytorch_model*.bin",)
N_SOURCE_CONFIG = "config"
N_SOURCE_COMPUTED = "computed from config.json"


class HubModelError(RuntimeError):
    """A hub model is not cached, not downloadable, or a pointer is malformed; the message says what to do."""


# --------------------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubBudget:
    """One pre-training budget of a model: which checkpoint, and how many tokens it was trained on.

    ``tokens`` is the total number of pre-training tokens ``D`` behind the checkpoint (for a checkpoint of a
    second training stage, stage 1 plus stage 2). ``annealed`` says whether the learning rate had been decayed to
    its final value when the checkpoint was saved (a fully trained run, or an annealing stage), as opposed to an
    intermediate checkpoint of a longer schedule. ``hf_id`` is None for embedded-study models.
    """

    label: str
    tokens: float
    hf_id: str | None = None
    revision: str = DEFAULT_REVISION
    annealed: bool = False


BUDGET_KEYS = ("tokens", "hf_id", "revision", "annealed")


def parse_budget(model: str, label: str, value, default_hf_id: str | None = None) -> HubBudget:
    """A budget entry of the config: a bare number (tokens) or ``{tokens, hf_id?, revision?, annealed?}``.

    ``default_hf_id`` is the model's ``hf_id`` (used when the budget names none). Errors name the config key
    ``models.<model>.budgets.<label>``.
    """
    where = f"models.{model}.budgets.{label}"
    spec = value if isinstance(value, Mapping) else {"tokens": value}
    unknown = sorted(set(spec) - set(BUDGET_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known: {list(BUDGET_KEYS)}")
    tokens = spec.get("tokens")
    if isinstance(tokens, bool) or not isinstance(tokens, (int, float)) or not math.isfinite(tokens) or tokens <= 0:
        raise ValueError(f"{where}.tokens: expected a positive number of tokens, got {tokens!r}")
    hf_id = spec.get("hf_id", default_hf_id)
    if hf_id is not None and (not isinstance(hf_id, str) or hf_id.count("/") != 1):
        raise ValueError(f"{where}.hf_id: expected 'org/name', got {hf_id!r}")
    revision = spec.get("revision", DEFAULT_REVISION)
    if not isinstance(revision, str) or not revision:
        raise ValueError(f"{where}.revision: expected a branch, tag or commit name, got {revision!r}")
    annealed = spec.get("annealed", False)
    if not isinstance(annealed, bool):
        raise ValueError(f"{where}.annealed: expected true or false, got {annealed!r}")  # noqa: TRY004 - a config error
    return HubBudget(str(label), float(tokens), hf_id, revision, annealed)


def model_budgets(model_spec: Mapping, model: str, default_budgets: Mapping | None = None) -> list[HubBudget]:
    """All budgets of ``models.<model>`` (its own ``budgets``, else ``default_budgets`` = ``pretrain.budgets``)."""
    raw = model_spec.get("budgets") or default_budgets
    if not raw:
        raise ValueError(f"models.{model}.budgets: no pre-training budgets (set it or pretrain.budgets)")
    return [parse_budget(model, label, value, model_spec.get("hf_id")) for label, value in raw.items()]


# --------------------------------------------------------------------------------------------------
# The Hugging Face cache
# --------------------------------------------------------------------------------------------------


def _env_true(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as set in the environment now."""
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def hub_cache_dir() -> str | None:
    """The hub cache named by the environment now (``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE``, ``HF_HOME``/hub).

    Read at call time, not at ``huggingface_hub`` import time, so that a job (or a test) that sets the variable
    after the library was imported still gets it. None: the library's default (``~/.cache/huggingface/hub``).
    """
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.path.expanduser(os.environ[name])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return None


def _has_weights(snapshot: Path) -> bool:
    return any(snapshot.glob("*.safetensors")) or any(snapshot.glob("pytorch_model*.bin"))


def _fetch_hint(hf_id: str, revision: str) -> str:
    return (
        f"download it on a node with internet access: run the workflow with `offline: false` up to the "
        f"pretrain rule (`snakemake --until pretrain ...`), or `hf download {hf_id} --revision {revision}`, "
        f"with the same HF_HUB_CACHE/HF_HOME as the jobs"
    )


def download_revision(hf_id: str, revision: str = DEFAULT_REVISION, *, local_files_only: bool | None = None) -> Path:
    """The cached snapshot directory of ``hf_id`` at ``revision`` (``.../snapshots/<commit>``), downloading what
    is missing unless ``local_files_only`` (default: :func:`hub_offline`).

    Safetensors weights are preferred; ``pytorch_model*.bin`` files are fetched only when the revision has no
    safetensors. Raises :class:`HubModelError` naming the model, the revision and what to run.
    """
    from huggingface_hub import snapshot_download

    offline = hub_offline() if local_files_only is None else local_files_only

    def fetch(patterns) -> Path:
        return Path(
            snapshot_download(
                hf_id,
                revision=revision,
                cache_dir=hub_cache_dir(),
                local_files_only=offline,
                allow_patterns=list(patterns),
            )
        )

    try:
        snapshot = fetch(DOWNLOAD_PATTERNS)
        if not _has_weights(snapshot) and not offline:
            snapshot = fetch(DOWNLOAD_PATTERNS + BIN_WEIGHT_PATTERNS)
    except Exception as exc:  # noqa: BLE001 - one clear message instead of a hub traceback
        reason = "not in the local hub cache and downloads are off (HF_HUB_OFFLINE=1)" if offline else str(exc)
        raise HubModelError(
            f"cannot fetch '{hf_id}' at revision '{revision}': {reason}; {_fetch_hint(hf_id, revision)}"
        ) from None
    if not (snapshot / "config.json").is_file() or not _has_weights(snapshot):
        raise HubModelError(
            f"'{hf_id}' at revision '{revision}' ({snapshot}) has no config.json or no weights "
            f"(*.safetensors / pytorch_model*.bin); {_fetch_hint(hf_id, revision)}"
        )
    return snapshot


# --------------------------------------------------------------------------------------------------
# Before the first download: does the hub know every id?
# --------------------------------------------------------------------------------------------------

HUB_CHECK_TIMEOUT_S = 10.0
"""Seconds the plan waits for one hub answer (``model_info``) before treating the hub as unreachable."""


@dataclass(frozen=True)
class HubIdCheck:
    """One (repository, revision) the config names, with the config key that names it (for the error)."""

    key: str
    hf_id: str
    revision: str


def ids_to_check(cfg: Mapping, pointer_exists) -> list[HubIdCheck]:
    """The hub (repository, revision) pairs of ``cfg``'s budgets that some replicate has not fetched yet.

    ``pointer_exists(model, budget)`` says whether every replicate's :data:`POINTER_FILE` of that budget exists (a
    fetched budget is not asked about again). ``key`` is ``models.<m>.budgets.<label>.hf_id`` when the budget names
    its own repository, else ``models.<m>.hf_id``. Each pair is listed once (the first key naming it).
    """
    seen, checks = set(), []
    for model, spec in cfg["models"].items():
        raw = spec.get("budgets") or cfg["pretrain"].get("budgets") or {}
        for budget in model_budgets(spec, model, cfg["pretrain"].get("budgets")):
            if budget.hf_id is None or pointer_exists(model, budget.label):
                continue
            own = isinstance(raw.get(budget.label), Mapping) and "hf_id" in raw[budget.label]
            key = f"models.{model}.budgets.{budget.label}.hf_id" if own else f"models.{model}.hf_id"
            if (budget.hf_id, budget.revision) not in seen:
                seen.add((budget.hf_id, budget.revision))
                checks.append(HubIdCheck(key, budget.hf_id, budget.revision))
    return checks


def unknown_hub_ids(checks: list[HubIdCheck], model_info=None, timeout_s: float = HUB_CHECK_TIMEOUT_S):
    """Ask the hub about each check (``huggingface_hub.model_info``, metadata only, no download).

    Returns ``(problems, unreachable)``: one message per id the hub does not know (naming the config key, the id and
    the revision), and None, or, when the hub cannot be asked (no network, a server error), the reason; then the
    remaining ids are not asked (the pretrain jobs report what they cannot fetch). A gated repository exists: it is
    no problem here (its download needs accepted terms and a token).
    """
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    if model_info is None:
        from huggingface_hub import model_info
    problems = []
    for c in checks:
        try:
            model_info(c.hf_id, revision=c.revision, timeout=timeout_s)
        except GatedRepoError:
            continue
        except RevisionNotFoundError:
            problems.append(f"{c.key}: the Hugging Face hub has '{c.hf_id}' but no revision '{c.revision}'")
        except RepositoryNotFoundError:
            problems.append(
                f"{c.key}: '{c.hf_id}' is not a model repository on the Hugging Face hub (a typo, or a private "
                f"repository this login cannot see: `hf auth login`)"
            )
        except Exception as exc:  # noqa: BLE001 - no network, DNS, timeouts, 5xx: the hub cannot be asked now
            return problems, f"{type(exc).__name__}: {exc}"
    return problems, None


def check_hub_ids(cfg: Mapping, pointer_exists, model_info=None) -> str | None:
    """Before the first download of a hub study: raise :class:`HubModelError` listing every id the hub does not
    know (all at once), so the plan stops before any job; returns a warning when the hub could not be asked, else
    None. Asks nothing when ``cfg['offline']`` or ``HF_HUB_OFFLINE`` is set, or every budget is fetched."""
    if cfg["pretrain"]["backend"] != "hub" or cfg.get("offline") or hub_offline():
        return None
    checks = ids_to_check(cfg, pointer_exists)
    if not checks:
        return None
    problems, unreachable = unknown_hub_ids(checks, model_info)
    if problems:
        raise HubModelError("; ".join(problems))
    if unreachable:
        return (
            f"could not ask the Hugging Face hub whether {len(checks)} model id(s) exist ({unreachable}); "
            f"the pretrain jobs will report any they cannot fetch"
        )
    return None


# --------------------------------------------------------------------------------------------------
# N, the base-model job, and resolution
# --------------------------------------------------------------------------------------------------


def non_embedding_params_from_config(model_path: str | os.PathLike) -> int:
    """``N`` (non-embedding parameters) of the architecture in ``model_path/config.json``.

    The model is built on the meta device (shapes only, no weights loaded) and counted by
    :func:`rlscaling.models.tiny.non_embedding_params` (embedding matrix and LM head excluded, tied or not).
    """
    from transformers import AutoConfig

    from rlscaling.models.tiny import non_embedding_params

    return int(non_embedding_params(AutoConfig.from_pretrained(str(model_path))))


def head_params_from_config(model_path: str | os.PathLike) -> int:
    """``H`` (output-head parameters, ``d_model · V``) of the architecture in ``model_path/config.json``, counted by
    :func:`rlscaling.models.tiny.output_head_params` on the meta device."""
    from transformers import AutoConfig

    from rlscaling.models.tiny import output_head_params

    return int(output_head_params(AutoConfig.from_pretrained(str(model_path))))


def model_size(model_dir: str | os.PathLike) -> dict[str, float]:
    """``{"n_params_non_embedding": N, "head_params": H}`` of a base-model directory: from its :data:`POINTER_FILE`
    (written by every pretrain job), and what that lacks (a record written before ``head_params`` was counted)
    from the config.json the directory resolves to (:func:`resolve_model_path`)."""
    path = Path(model_dir) / POINTER_FILE
    info = read_json(path) if path.is_file() else {}
    n, h = info.get("n_params_non_embedding"), info.get("head_params")
    if n is None or h is None:
        resolved = resolve_model_path(model_dir)
        n = non_embedding_params_from_config(resolved) if n is None else n
        h = head_params_from_config(resolved) if h is None else h
    return {"n_params_non_embedding": float(n), "head_params": float(h)}


def fetch_hub_model(
    hf_id: str,
    out_dir: str | os.PathLike,
    tokens: float,
    revision: str = DEFAULT_REVISION,
    annealed: bool = False,
    n_params: float | None = None,
) -> dict:
    """The base-model job of a hub budget: cache ``hf_id`` at ``revision`` and write the pointer ``out_dir``.

    ``out_dir`` receives only :data:`POINTER_FILE` (atomically): ``source: hub``, ``hf_id``, ``revision``, the
    resolved ``commit``, ``annealed``, ``tokens_trained`` (``D``), ``n_params_non_embedding`` (``N``),
    ``n_params_source`` (:data:`N_SOURCE_CONFIG` when ``n_params`` is given, else :data:`N_SOURCE_COMPUTED`),
    ``head_params`` (``H``, always from config.json), ``head_flops_share`` and ``c_pretrain_flops = 6·(N + H)·D``.
    Returns that record.
    """
    snapshot = download_revision(hf_id, revision)
    if n_params is None:
        n, n_source = non_embedding_params_from_config(snapshot), N_SOURCE_COMPUTED
    else:
        n, n_source = float(n_params), N_SOURCE_CONFIG
    info = {
        "source": "hub",
        "hf_id": hf_id,
        "revision": revision,
        "commit": snapshot.name,
        "annealed": bool(annealed),
        "tokens_trained": float(tokens),
        **pretrain_record(float(n), tokens, head_params=float(head_params_from_config(snapshot))),
        "n_params_source": n_source,
    }
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / POINTER_FILE, info)
    return info


def read_pointer(model_dir: str | os.PathLike) -> dict | None:
    """The hub pointer of ``model_dir``, or None when it is not a pointer directory (it holds ``config.json``,
    or its ``pretrain.json`` is not from the hub)."""
    model_dir = Path(model_dir)
    if (model_dir / "config.json").is_file():
        return None
    path = model_dir / POINTER_FILE
    if not path.is_file():
        return None
    info = read_json(path)
    if not isinstance(info, dict) or info.get("source") != "hub":
        return None
    missing = [k for k in ("hf_id", "revision", "commit") if not info.get(k)]
    if missing:
        raise HubModelError(f"{path}: hub pointer lacks {missing}; rerun the pretrain rule for this budget")
    return info


def resolve_model_path(model_dir: str | os.PathLike) -> str:
    """The directory a loader should open for ``model_dir``: ``model_dir`` itself when it holds ``config.json``;
    for a hub pointer, the cached snapshot of exactly the recorded commit (never downloads).

    Raises :class:`HubModelError` (naming ``hf_id``, revision, commit and what to run) when the snapshot is not
    cached, and ``FileNotFoundError`` when ``model_dir`` is neither a model nor a pointer directory.
    """
    model_dir = Path(model_dir)
    info = read_pointer(model_dir)
    if info is None:
        if (model_dir / "config.json").is_file():
            return str(model_dir)
        raise FileNotFoundError(
            f"{model_dir}: neither a model directory (config.json) nor a hub pointer ({POINTER_FILE} with source: hub)"
        )
    from huggingface_hub import snapshot_download

    hf_id, revision, commit = info["hf_id"], info["revision"], info["commit"]
    try:
        snapshot = Path(snapshot_download(hf_id, revision=commit, cache_dir=hub_cache_dir(), local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError and friends: one clear message
        raise HubModelError(
            f"{model_dir}: '{hf_id}' revision '{revision}' (commit {commit}) is not in the hub "
            f"cache {hub_cache_dir() or '(default)'}; {_fetch_hint(hf_id, revision)}"
        ) from None
    if not (snapshot / "config.json").is_file():
        raise HubModelError(
            f"{model_dir}: cached snapshot {snapshot} of '{hf_id}' revision '{revision}' has no "
            f"config.json; {_fetch_hint(hf_id, revision)}"
        )
    return str(snapshot)


__all__ = [
    "POINTER_FILE",
    "HubBudget",
    "HubIdCheck",
    "HubModelError",
    "check_hub_ids",
    "download_revision",
    "fetch_hub_model",
    "head_params_from_config",
    "hub_cache_dir",
    "ids_to_check",
    "model_budgets",
    "model_size",
    "non_embedding_params_from_config",
    "parse_budget",
    "read_pointer",
    "resolve_model_path",
    "unknown_hub_ids",
]
