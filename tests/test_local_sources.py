"""Local data files are rule inputs, and the rules read every results path from the one table.

rlscaling.workflow.local_sources on configs (no Snakemake); then `snakemake` in a working directory other than the
workflow
directory: a relative `jsonl:` path is planned as an input of `prepare_data`, editing the file reruns that
preparation (only the one `prepare_data` job runs, seconds), a missing file stops before any job with its key.
Last, what the rules and Python share: no rule file spells a results path of its own (rlscaling.study.PATHS is the
one table), and every rule of the parsed workflow has job settings, as every rule name Python spells is a rule.
"""

import copy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from rlscaling import study as rs
from rlscaling.data import prepare
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_environment as je
from rlscaling.workflow import job_settings as rj
from rlscaling.workflow import local_sources as rl
from rlscaling.workflow import plan as rp

from test_workflow import MICRO, ROOT, snakemake_command

FIXTURE = ROOT / "tests" / "fixtures" / "local_questions.jsonl"
RELATIVE = "tests/fixtures/local_questions.jsonl"  # as a user writes it: relative to the workflow directory
EVAL_GSM8K = "results/data/eval_gsm8k.jsonl"


@pytest.fixture
def micro():
    return rc.load_config(MICRO)


def local_config(cfg: dict, source: str) -> dict:
    """The micro study with its benchmark (and so its few-shot pool) and its RL prompts read from ``source``."""
    cfg = copy.deepcopy(cfg)
    cfg["benchmarks"]["gsm8k"]["source"] = source
    cfg["data"]["rl_train"] = {"source": source, "kind": "gsm8k", "n": 8, "seed": 2}
    return cfg


# --------------------------------------------------------------------------- rlscaling.workflow.local_sources


def test_relative_paths_resolve_against_the_workflow_directory(micro, tmp_path, monkeypatch):
    cfg = rl.resolve_local_sources(local_config(micro, f"jsonl:{RELATIVE}"), ROOT)
    absolute = str(FIXTURE)
    assert cfg["benchmarks"]["gsm8k"]["source"] == f"jsonl:{absolute}"
    for dataset in ("eval_gsm8k", "fewshot_gsm8k", "rl_train"):
        assert rl.local_files(cfg, dataset) == [absolute], dataset
    assert rl.local_files(cfg, "pretrain_corpus") == []  # procedural mixture: no local file
    # the job's settings carry the absolute path (params: a changed path reruns the job)
    assert absolute in rj.job_settings_json(cfg, "prepare_data", dataset="eval_gsm8k")
    # an absolute path stays as written; the same config resolved twice is unchanged
    again = rl.resolve_local_sources(copy.deepcopy(cfg), tmp_path)
    assert again == cfg
    # the path is read from the given workflow directory, never from the working directory (here: ROOT)
    monkeypatch.chdir(ROOT)
    with pytest.raises(rs.ConfigError, match=f"no such file {tmp_path}/elsewhere/{RELATIVE}"):
        rl.resolve_local_sources(local_config(micro, f"jsonl:{RELATIVE}"), tmp_path / "elsewhere")


def test_every_named_source_is_found_with_its_key(micro, tmp_path):
    """Few-shot sources, the corpus mixture and the validation-loss text are local files of their datasets too."""
    files = {}
    for name in ("pool", "corpus", "val"):
        files[name] = tmp_path / f"{name}.jsonl"
        shutil.copy(FIXTURE, files[name])
    cfg = local_config(micro, f"jsonl:{RELATIVE}")
    cfg["benchmarks"]["gsm8k"]["fewshot_source"] = f"jsonl:{files['pool']}"
    cfg["data"]["pretrain_corpus"]["mixture"] = [
        {"source": "procedural:chain_sum?terms=2-2&digits=1-1", "weight": 1, "pool": 4},
        {"source": f"jsonl:{files['corpus']}", "weight": 1, "pool": 4},
    ]
    cfg["val_loss"]["source"] = f"jsonl:{files['val']}"
    rl.resolve_local_sources(cfg, ROOT)
    assert rl.local_files(cfg, "eval_gsm8k") == [str(FIXTURE)]
    assert rl.local_files(cfg, "fewshot_gsm8k") == [str(files["pool"])]
    assert rl.local_files(cfg, "pretrain_corpus") == [str(files["corpus"])]
    assert rl.local_files(cfg, "val_text") == [str(files["val"])]
    keys = {(s.dataset, s.key) for s in rl.source_slots(cfg)}
    assert ("pretrain_corpus", "data.pretrain_corpus.mixture.1.source") in keys
    # one home for "which key names a dataset's source": the slots agree with rlscaling.data.prepare's specs
    for slot in rl.source_slots(cfg):
        if slot.dataset != "pretrain_corpus":
            assert prepare.dataset_spec(cfg, slot.dataset)["key"] == slot.key, slot


@pytest.mark.parametrize(
    "where,key",
    [
        ("benchmark", "benchmarks.gsm8k.source"),
        ("rl_train", "data.rl_train.source"),
        ("mixture", "data.pretrain_corpus.mixture.0.source"),
    ],
)
def test_a_missing_local_file_is_a_config_error_naming_its_key(micro, where, key):
    cfg = copy.deepcopy(micro)
    missing = "jsonl:no/such/questions.jsonl"
    if where == "benchmark":
        cfg["benchmarks"]["gsm8k"]["source"] = missing
    elif where == "rl_train":
        cfg["data"]["rl_train"] = {"source": missing, "kind": "gsm8k", "n": 8}
    else:
        cfg["data"]["pretrain_corpus"]["mixture"] = [{"source": missing, "weight": 1, "pool": 4}]
    with pytest.raises(rs.ConfigError, match=rf"^{re.escape(key)}: no such file {ROOT}/no/such/questions.jsonl"):
        rl.resolve_local_sources(cfg, ROOT)


def test_an_unused_source_is_not_required(micro):
    """A few-shot source no prepared dataset reads (every shot count 0) may be absent."""
    cfg = copy.deepcopy(micro)
    cfg["benchmarks"]["gsm8k"].update(shots=[0], shots_intermediate=[0], fewshot_source="jsonl:no/pool.jsonl")
    assert "fewshot_gsm8k" not in rp.dataset_names(cfg)
    rl.resolve_local_sources(cfg, ROOT)
    assert cfg["benchmarks"]["gsm8k"]["fewshot_source"] == f"jsonl:{ROOT}/no/pool.jsonl"


# --------------------------------------------------------------------------- the workflow


def write_config(path, source: str, rl_train: bool = True):
    """The micro study's YAML with the benchmark (and with ``rl_train`` the RL prompts) read from ``source``."""
    raw = yaml.safe_load(MICRO.read_text())
    raw["benchmarks"]["gsm8k"]["source"] = source
    if rl_train:
        raw["data"]["rl_train"] = {"source": source, "kind": "gsm8k", "n": 8, "seed": 2}
    path.write_text(yaml.safe_dump(raw))
    return path


def run(workdir, config, *args):
    """``snakemake`` in ``workdir``; an (empty) tokenizer directory there skips the tokenizer's first-run corpus check,
    which these tests do not need (seconds per call)."""
    (workdir / "results" / "tokenizer").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(snakemake_command(workdir, config, *args), capture_output=True, text=True, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def planned_prepare_data(text: str) -> list[str]:
    """The outputs of the prepare_data jobs a dry run lists."""
    return re.findall(r"rule prepare_data:\n(?:.*\n)*?\s+output: (\S+)", text)


def test_dry_run_in_another_workdir_plans_the_local_file_as_input(tmp_path):
    config = write_config(tmp_path / "local.yaml", f"jsonl:{RELATIVE}")
    workdir = tmp_path / "work"  # not the workflow directory: the relative path must not be read from here
    rc_, text = run(workdir, config, "-n", EVAL_GSM8K)
    assert rc_ == 0, text[-3000:]
    assert planned_prepare_data(text) == [EVAL_GSM8K]
    assert re.search(rf"rule prepare_data:\n\s+input: {re.escape(str(FIXTURE))}\n", text), text[-3000:]


def test_editing_the_local_file_reruns_its_preparation(tmp_path):
    local = tmp_path / "questions" / "local.jsonl"
    local.parent.mkdir()
    shutil.copy(FIXTURE, local)
    config = write_config(tmp_path / "local.yaml", f"jsonl:{os.path.relpath(local, ROOT)}")
    workdir = tmp_path / "work"
    rc_, text = run(workdir, config, "-c1", EVAL_GSM8K)  # only this one prepare_data job
    assert rc_ == 0, text[-3000:]
    rows = [json.loads(line) for line in (workdir / EVAL_GSM8K).read_text().splitlines()]
    assert len(rows) == 8 and all(r["source"] == f"jsonl:{local}" for r in rows)
    rc_, text = run(workdir, config, "-n", EVAL_GSM8K)
    assert rc_ == 0 and planned_prepare_data(text) == [], text[-3000:]  # up to date: nothing planned
    # the same rows at another path, older than the output: the path in the job's settings (params) changed
    moved = tmp_path / "questions" / "moved.jsonl"
    shutil.copy(local, moved)
    earlier = (workdir / EVAL_GSM8K).stat().st_mtime - 3600
    os.utime(moved, (earlier, earlier))
    other = write_config(tmp_path / "moved.yaml", f"jsonl:{os.path.relpath(moved, ROOT)}")
    rc_, text = run(workdir, other, "-n", EVAL_GSM8K)
    assert rc_ == 0 and planned_prepare_data(text) == [EVAL_GSM8K], text[-3000:]
    assert re.search(r"reason: .*[Pp]arams have changed", text), text[-3000:]
    # edit the file (one more question), later than the output
    with local.open("a") as f:
        f.write(json.dumps({"id": "extra", "question": "What is 1 + 1?", "answer": "2"}) + "\n")
    later = (workdir / EVAL_GSM8K).stat().st_mtime + 5
    os.utime(local, (later, later))
    rc_, text = run(workdir, config, "-n", EVAL_GSM8K)
    assert rc_ == 0, text[-3000:]
    assert planned_prepare_data(text) == [EVAL_GSM8K]
    assert re.search(rf"reason: Updated input files: {re.escape(str(local))}", text), text[-3000:]


def test_a_missing_local_file_stops_the_workflow_before_any_job(tmp_path):
    config = write_config(tmp_path / "local.yaml", "jsonl:no/such/questions.jsonl", rl_train=False)
    rc_, text = run(tmp_path / "work", config, "-n")
    assert rc_ != 0
    assert "config error, nothing was run: benchmarks.gsm8k.source: no such file" in text, text[-3000:]
    assert not (tmp_path / "work" / "results" / "data").exists()


# --------------------------------------------------------------------------- one path table


RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def _code(path):
    """(line number, code) of a rule file's lines, comments cut off."""
    return [(n, line.split("#", 1)[0]) for n, line in enumerate(path.read_text().splitlines(), 1)]


def spelled_paths(files) -> list[str]:
    """Lines of rule files that spell a results path themselves: a use of the results directory ``R`` other than
    naming the logs and benchmarks directories, or a string literal holding a fragment of a ``PATHS`` pattern
    (logs and benchmark paths excepted)."""
    fragments = {p.split("{", 1)[0] for p in rs.PATHS.values()} - {""} | {f"{rs.results_dir({})}/"}
    bare = {f for f in fragments if "/" not in f and "." not in f}  # "data", "tokenizer", "figures": whole literals
    allowed_r = re.compile(r'\s*(R = rs\.results_dir\(config\)|LOGS = f"\{R\}/logs"|BENCH = f"\{R\}/benchmarks")\s*$')
    problems = []
    for path in files:
        for n, code in _code(path):
            if re.search(r"\bR\b", code) and not allowed_r.match(code):
                problems.append(f"{path.name}:{n}: uses R: {code.strip()}")
            keyless = re.sub(r'\bpath\((config, )?"\w+"', "path(", code)  # path("tokenizer"): a key, not a path
            for literal in re.findall(r'"([^"]*)"(?!\s*:)', keyless):  # a dict key names an input, not a path
                if literal.startswith(("{LOGS}", "{BENCH}")):
                    continue
                hits = sorted(f for f in fragments - bare if f in literal) + sorted(f for f in bare if literal == f)
                if hits:
                    problems.append(f"{path.name}:{n}: {hits} in {literal!r}")
    return problems


def test_no_rule_file_spells_a_results_path():
    """Every results path a rule uses comes from rlscaling.study.PATHS (``path()`` of common.smk)."""
    assert spelled_paths(RULE_FILES) == []


def test_the_path_check_catches_a_spelled_path(tmp_path):
    """The check is not vacuous: the old f-string, a join on R and a bare literal all fail it."""
    fake = tmp_path / "fake.smk"
    fake.write_text(
        "rule x:\n"
        "    output:\n"
        '        f"{R}/eval/{{model}}/seed_{{seed}}/{{budget}}/base/step_0/val_loss.json",\n'
        '        os.path.join(R, "fits/fits.json"),\n'
        '        directory("results/figures"),\n'
        '        "tokenizer", path("tokenizer"), rs.path(config, "figures"),\n'
        "    log:\n"
        '        f"{LOGS}/x/grpo/{{model}}.log",  # logs are not in the table\n'
    )
    problems = spelled_paths([fake])
    assert [p.split(":")[1] for p in problems] == ["3", "3", "4", "4", "5", "6"], problems


def test_patterns_fill_some_fields_and_keep_the_others_as_wildcards(micro):
    assert rs.pattern(micro, "dataset") == "results/data/{dataset}.jsonl"
    assert rs.pattern(micro, "dataset", dataset="rl_train") == rs.path(micro, "dataset", dataset="rl_train")
    assert rs.pattern(micro, "eval_output", stem="gsm8k_0shot", ext="summary.json") == (
        "results/eval/{checkpoint}/gsm8k_0shot.summary.json"
    )
    job = rp.eval_jobs(micro)[0]
    ckpt = rp.checkpoint_id(job.model, job.seed, job.budget, job.reward, job.step)
    # the checkpoint-level pattern the evaluate rules write and the per-file path aggregate reads agree
    assert rs.path(micro, "eval_output", checkpoint=ckpt, stem=f"{job.bench}_{job.shots}shot", ext="summary.json") == (
        rs.path(micro, "eval_summary", **vars(job))
    )
    with pytest.raises(KeyError, match="no path 'nope'"):
        rs.pattern(micro, "nope")


def test_rule_names_agree_between_the_workflow_and_python(micro, tmp_path):
    """Rule names are Snakemake identifiers in the rule files and strings in Python (job settings, backends, the
    evaluation plans): every rule of the parsed workflow has job settings, and every name Python spells is a rule."""
    from test_dag import PROFILE, _load_workflow

    rules = set(_load_workflow(MICRO, conda=False, workdir=tmp_path)) - {"all"}
    cell = rs.rl_runs(micro)[0]
    for rule in sorted(rules):
        assert rj.job_config(micro, rule, dataset="rl_train", **cell._asdict()), rule  # raises for an unknown rule
    with pytest.raises(rs.ConfigError, match="no job settings for rule 'evaluate'"):
        rj.job_config(micro, "evaluate")
    named = set(rp.EVAL_RULES.values()) | set(je.JOB_PYTHON.values()) | {"seed_comparison"}
    assert named <= rules, named - rules
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert set(profile["set-resources"]) - {"report"} <= rules
