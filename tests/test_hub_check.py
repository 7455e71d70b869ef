"""A hub study's first plan asks the hub about every model id before any job, and stops naming each unknown one.

No hub is reachable here: the unit tests pass a fake ``model_info``; the plan test runs Snakemake against a local
fake hub (``HF_ENDPOINT``) that answers like the Hugging Face API (404 + ``X-Error-Code: RepoNotFound``)."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
import yaml
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

from rlscaling import study as rs
from rlscaling.models import hub
from rlscaling.workflow import config as rc

ROOT = Path(__file__).resolve().parents[1]
EVOLM = ROOT / "configs" / "evolm.yaml"


@pytest.fixture(scope="module")
def evolm():
    return rc.load_config(EVOLM)


def published_ids(cfg):
    return {b["hf_id"] for m in cfg["models"] for b in rs.budgets_detail(cfg, m).values()}


def test_every_unfetched_budget_is_checked_under_its_config_key(evolm):
    checks = hub.ids_to_check(evolm, lambda model, budget: False)
    assert len(checks) == sum(len(rs.budgets(evolm, m)) for m in evolm["models"])
    assert {c.hf_id for c in checks} == published_ids(evolm)
    first = checks[0]
    assert first.key == "models.evolm-0.5b.budgets.10BT.hf_id" and first.hf_id == "zhenting/myllama-0.5B-10BT"
    assert first.revision == "main"
    # a fetched budget is not asked about again
    rest = hub.ids_to_check(evolm, lambda model, budget: (model, budget) == ("evolm-0.5b", "10BT"))
    assert [c.key for c in rest] == [c.key for c in checks[1:]]


def test_a_model_level_id_is_named_by_its_model_key():
    cfg = {"models": {"m": {"hf_id": "org/m", "budgets": {"1T": 1e12}}}, "pretrain": {"backend": "hub"}}
    (check,) = hub.ids_to_check(cfg, lambda model, budget: False)
    assert (check.key, check.hf_id) == ("models.m.hf_id", "org/m")


def _error(cls, url="https://huggingface.co/api/models/x"):
    return cls("fake", response=httpx2.Response(404, request=httpx2.Request("GET", url)))


def fake_model_info(answers, calls):
    def model_info(hf_id, revision=None, timeout=None):
        calls.append(hf_id)
        answer = answers.get(hf_id)
        if answer is not None:
            raise answer
        return {"id": hf_id}

    return model_info


def test_unknown_ids_and_revisions_are_named_gated_ones_pass():
    checks = [
        hub.HubIdCheck("models.a.budgets.1T.hf_id", "org/missing", "main"),
        hub.HubIdCheck("models.b.hf_id", "org/old", "v9"),
        hub.HubIdCheck("models.c.hf_id", "org/gated", "main"),
        hub.HubIdCheck("models.d.hf_id", "org/fine", "main"),
    ]
    answers = {
        "org/missing": _error(RepositoryNotFoundError),
        "org/old": _error(RevisionNotFoundError),
        "org/gated": _error(GatedRepoError),
    }
    calls = []
    problems, unreachable = hub.unknown_hub_ids(checks, fake_model_info(answers, calls))
    assert unreachable is None and calls == [c.hf_id for c in checks]
    assert problems == [
        "models.a.budgets.1T.hf_id: 'org/missing' is not a model repository on the Hugging Face hub (a typo, or a "
        "private repository this login cannot see: `hf auth login`)",
        "models.b.hf_id: the Hugging Face hub has 'org/old' but no revision 'v9'",
    ]


def test_an_unreachable_hub_stops_asking_and_warns(evolm, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    calls = []
    answers = dict.fromkeys(published_ids(evolm), httpx2.ConnectError("Name or service not known"))
    warning = hub.check_hub_ids(evolm, lambda model, budget: False, fake_model_info(answers, calls))
    assert len(calls) == 1
    assert warning.startswith("could not ask the Hugging Face hub whether 14 model id(s) exist (ConnectError")


def test_offline_asks_nothing(evolm, monkeypatch):
    calls = []
    model_info = fake_model_info({}, calls)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.check_hub_ids(evolm, lambda m, b: False, model_info) is None
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert hub.check_hub_ids({**evolm, "offline": True}, lambda m, b: False, model_info) is None
    assert calls == []


class FakeHub(http.server.BaseHTTPRequestHandler):
    """``GET /api/models/<org>/<name>/revision/<rev>`` as the hub answers it: the model's info, or 404 with the
    hub's ``X-Error-Code``."""

    known: set = set()

    def do_GET(self):  # noqa: N802 - http.server's name
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/?]+).*", self.path)
        if m and m.group(1) in self.known and m.group(2) == "main":
            body = json.dumps({"id": m.group(1), "sha": "0" * 40, "siblings": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            code = "RevisionNotFound" if m and m.group(1) in self.known else "RepoNotFound"
            body = json.dumps({"error": "Repository not found"}).encode()
            self.send_response(404)
            self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(evolm):
    FakeHub.known = published_ids(evolm)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def plan_until_pretrain(workdir, config, endpoint):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(workdir / "hf_home"), RLSCALING_SLURM_ACCOUNT="")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "-n"]
    cmd += ["--configfile", str(config), "--until", "pretrain"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_first_plan_stops_naming_an_id_the_hub_does_not_know(tmp_path, fake_hub):
    """The old config's evolm-4B-20BT (not published) stops the plan before any job; the published grid plans."""
    with open(EVOLM, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    cfg["models"]["evolm-4b"]["budgets"]["20BT"] = {"tokens": 2.0e10, "hf_id": "zhenting/evolm-4B-20BT"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = plan_until_pretrain(tmp_path / "bad", bad, fake_hub)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    want = "config error, nothing was run: models.evolm-4b.budgets.20BT.hf_id: 'zhenting/evolm-4B-20BT' is not a "
    assert want in text
    assert "rule pretrain" not in text  # nothing planned

    good = plan_until_pretrain(tmp_path / "good", EVOLM, fake_hub)
    assert good.returncode == 0, (good.stdout + good.stderr)[-3000:]
    assert re.search(r"\bpretrain\s+14\b", good.stdout + good.stderr)
