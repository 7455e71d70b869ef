"""``--config`` overrides: Snakemake hands nested values over as strings; they are read as the schema's types, merge
into the config key by key, and plan exactly the jobs of the equivalent config-file edit; a value that cannot be read
stops the run naming key, value and type. Also: ``snakemake --lint`` has nothing to report."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config

from rlscaling import study as rs
from rlscaling.config_schema import YAML_LOADER, _schema
from rlscaling.workflow import config as rc
from rlscaling.workflow.job_environment import job_environment

from test_dag import snakemake_cmd
from test_workflow import MICRO, ROOT, snakemake_command

EMBEDDED = ROOT / "config.yaml"


def _raw(path):
    return yaml.load(path.read_text(), Loader=YAML_LOADER)


def _with_override(path, *entries: str) -> dict:
    """The config Snakemake builds from ``path`` and ``--config entries`` (its own parser and merge), validated."""
    overrides = parse_config(list(entries))
    cfg = _raw(path)
    update_config(cfg, overrides)
    return rc.validate_config(cfg, overrides)


def _edited(path, edit) -> dict:
    """``path``'s config with ``edit`` (a function changing the raw mapping) applied, unvalidated."""
    cfg = _raw(path)
    edit(cfg)
    return cfg


def _set(*keys, value):
    def edit(cfg):
        node = cfg
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return edit


def _seq(*edits):
    def edit(cfg):
        for e in edits:
            e(cfg)

    return edit


# (the --config value as typed, the same change made in config.yaml): the examples, on the embedded study.
# `grpo.steps: 40` alone is not a valid edit of config.yaml (save_steps reaches 60), so its pair also moves save_steps.
CASES = {
    "lr-python": ("grpo={'lr': 1e-5}", _set("grpo", "lr", value=1.0e-5)),
    "lr-json": ('grpo={"lr": 0.00001}', _set("grpo", "lr", value=1.0e-5)),
    "steps": (
        "grpo={'steps': 40, 'save_steps': [10, 20, 40]}",
        _seq(_set("grpo", "steps", value=40), _set("grpo", "save_steps", value=[10, 20, 40])),
    ),
    "shots": ("benchmarks={'gsm8k': {'shots': [0, 1]}}", _set("benchmarks", "gsm8k", "shots", value=[0, 1])),
    "arch": (
        "models={'tiny-s': {'arch': {'num_hidden_layers': 3, 'intermediate_size': 160}}}",
        _seq(
            _set("models", "tiny-s", "arch", "num_hidden_layers", value=3),
            _set("models", "tiny-s", "arch", "intermediate_size", value=160),
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_override_gives_the_config_of_the_file_edit(case):
    """Same validated config, value types included (1e-5 a float, 40 an int, shots ints), and every other key of
    the overridden section kept (a nested override merges; it does not replace the section)."""
    entry, edit = CASES[case]
    got = _with_override(EMBEDDED, entry)
    want = rc.validate_config(_edited(EMBEDDED, edit))
    assert got == want
    assert repr(got) == repr(want)  # 40 vs 40.0, 1e-05 vs '1e-05': equal types, not only equal values


def test_the_bare_steps_override_fails_like_the_file_edit():
    """`grpo={'steps': 40}` reads 40 as an integer; the embedded study then refuses it for the same reason as the
    edit of config.yaml (a save step beyond the last step), not for its type."""
    with pytest.raises(rs.ConfigError) as edit_err:
        rc.validate_config(_edited(EMBEDDED, _set("grpo", "steps", value=40)))
    with pytest.raises(rs.ConfigError) as override_err:
        _with_override(EMBEDDED, "grpo={'steps': 40}")
    assert str(override_err.value) == str(edit_err.value) and "grpo.save_steps" in str(edit_err.value)


@pytest.mark.parametrize(
    "entry,keys,want",
    [
        ("offline=false", ("offline",), False),  # a top-level scalar Snakemake does not read itself (only True/False)
        ("grpo={'gradient_checkpointing': 'yes'}", ("grpo", "gradient_checkpointing"), True),  # YAML's booleans
        ("evaluate={'pass_at_k': {'n_items': 'null'}}", ("evaluate", "pass_at_k", "n_items"), None),
        ("evaluate={'vllm': {'cpu_omp_threads_bind': '~'}}", ("evaluate", "vllm", "cpu_omp_threads_bind"), None),
        ("evaluate={'vllm': {'cpu_omp_threads_bind': '0-3'}}", ("evaluate", "vllm", "cpu_omp_threads_bind"), "0-3"),
        ("evaluate={'vllm': {'gpu_memory_utilization': 0.5}}", ("evaluate", "vllm", "gpu_memory_utilization"), 0.5),
        ("grpo={'budgets': ['2M']}", ("grpo", "budgets"), ["2M"]),  # a string-typed list stays strings
        ("pretrain={'budgets': {'2M': 2.5e6}}", ("pretrain", "budgets", "2M"), 2.5e6),  # oneOf: number or mapping
        ("fit={'budgets': [1e15, 1e16]}", ("fit", "budgets"), [1e15, 1e16]),
    ],
)
def test_values_are_read_as_the_schema_declares(entry, keys, want):
    got = _with_override(EMBEDDED, entry)
    for k in keys:
        got = got[k]
    assert got == want and type(got) is type(want)


def test_a_hub_budget_mapping_inside_a_model_is_read_field_by_field():
    """oneOf (a number or {tokens, hf_id, revision, annealed}) under additionalProperties under a $ref."""
    entry = "models={'tiny-s': {'budgets': {'2M': {'tokens': 2e6, 'annealed': 'true', 'revision': '123'}}}}"
    overrides = parse_config([entry])
    cfg = _raw(EMBEDDED)
    update_config(cfg, overrides)
    budget = rc.validate_config(cfg, overrides)["models"]["tiny-s"]["budgets"]["2M"]
    assert budget == {"tokens": 2e6, "annealed": True, "revision": "123"}  # the revision stays a string


def test_strings_from_a_config_file_are_not_read_again():
    """Only --config values are rewritten: a number written as a string in a config file still fails validation,
    and a string-typed key keeps a numeric-looking string."""
    cfg = _raw(MICRO)
    cfg["grpo"]["lr"] = "1e-5"
    overrides = parse_config(["grpo={'steps': 2}"])
    update_config(cfg, overrides)
    with pytest.raises(rs.ConfigError, match=r"grpo\.lr: '1e-5' is not of type 'number'"):
        rc.validate_config(cfg, overrides)


@pytest.mark.parametrize(
    "entry,message",
    [
        ("grpo={'lr': 'fast'}", "grpo.lr: 'fast' given with --config cannot be read as number"),
        ("grpo={'steps': 4.5}", "grpo.steps: '4.5' given with --config cannot be read as integer"),
        ("offline=maybe", "offline: 'maybe' given with --config cannot be read as boolean"),
        ("benchmarks={'gsm8k': {'shots': [0, 'one']}}", "benchmarks.gsm8k.shots.1: 'one' given with --config"),
        ("evaluate={'pass_at_k': {'n_items': 'all'}}", "cannot be read as integer or null"),
    ],
)
def test_a_value_that_cannot_be_read_names_key_value_and_type(entry, message):
    with pytest.raises(rs.ConfigError) as err:
        _with_override(EMBEDDED, entry)
    assert message in str(err.value) and "--config mapping or list as strings" in str(err.value)


def test_every_key_of_the_schema_declares_a_type():
    """Every key the schema knows (through $ref, oneOf, additionalProperties, items) has a type to read a --config
    string as: a key added without one would silently keep its string until validation."""
    from rlscaling.workflow.config_overrides import _branches, _types

    schema = _schema()
    seen = 0

    def visit(schemas, path):
        nonlocal seen
        branches = _branches(schemas, schema)
        assert _types(branches), f"{path}: no type"
        seen += 1
        for b in branches:
            for name, sub in b.get("properties", {}).items():
                visit([sub], f"{path}.{name}")
            if isinstance(b.get("additionalProperties"), dict):
                visit([b["additionalProperties"]], f"{path}.<name>")
            if isinstance(b.get("items"), dict):
                visit([b["items"]], f"{path}[]")

    visit([schema], "<config>")
    assert seen > 100


def test_an_unknown_key_is_left_to_the_schema():
    with pytest.raises(rs.ConfigError, match="lrr"):
        _with_override(EMBEDDED, "grpo={'lrr': 1e-5}")


# ------------------------------------------------------------------------------- through snakemake -n


def _plan(cmd) -> list[str]:
    """The jobs `snakemake -n -p` plans: one block per job (rule, files, wildcards, resources, shell command with
    its settings), sorted; left out: job ids, timestamps and the reasons (which list files in set order)."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    blocks = []
    for block in text.split("\n\n"):
        lines = [
            ln
            for ln in block.strip().splitlines()
            if not ln.startswith("[") and not ln.lstrip().startswith(("jobid:", "reason:"))
        ]
        if lines and lines[0].startswith(("rule ", "localrule ")):
            blocks.append("\n".join(lines))
    assert blocks, text[-3000:]
    return sorted(blocks)


@pytest.fixture(scope="module")
def default_plan(tmp_path_factory):
    return _plan(snakemake_cmd(tmp_path_factory.mktemp("default"), "-n", "-p"))


@pytest.fixture(scope="module")
def edit_plan(tmp_path_factory):
    """The plan of config.yaml with an edit (planned once per distinct edit)."""
    plans = {}

    def plan(edit):
        text = yaml.safe_dump(_edited(EMBEDDED, edit), sort_keys=False)
        if text not in plans:
            wd = tmp_path_factory.mktemp("edited")
            (wd / "edited.yaml").write_text(text)
            plans[text] = _plan(snakemake_command(wd, wd / "edited.yaml", "-n", "-p"))
        return plans[text]

    return plan


@pytest.mark.parametrize("case", sorted(CASES))
def test_snakemake_plans_the_override_like_the_file_edit(case, tmp_path, default_plan, edit_plan):
    """`snakemake -n --config <override>` (on the default config, as a user types it) lists the same jobs with the
    same settings as `snakemake -n --configfile <config.yaml edited>`."""
    entry, edit = CASES[case]
    got = _plan(snakemake_cmd(tmp_path, "-n", "-p", "--config", entry))
    assert got == edit_plan(edit)
    if case not in ("shots", "arch"):  # shots [0, 1] is config.yaml's own; tiny-s's arch is in no settings shown
        assert got != default_plan  # the override took effect (GRPO settings, checkpoints)


def test_snakemake_refuses_a_bad_override_before_any_job(tmp_path):
    proc = subprocess.run(
        snakemake_cmd(tmp_path, "-n", "--config", "grpo={'lr': 'fast'}"), capture_output=True, text=True
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config error, nothing was run: grpo.lr: 'fast' given with --config cannot be read as number" in text
    assert "--config mapping or list as strings" in text
    assert not (tmp_path / "results").exists()


def test_snakemake_lint_reports_nothing(tmp_path):
    """`snakemake --lint` on the default config, as on a fresh clone: no lint at all (envvars, mixed rules and
    functions, absolute paths, rule lints)."""
    proc = subprocess.run(snakemake_cmd(tmp_path, "--lint"), capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in text, text[-3000:]


def test_job_environment(monkeypatch):
    """What the Snakefile exports: offline hub with `offline: true`, src first on PYTHONPATH (once), the
    interpreter of each backend-bound rule."""
    monkeypatch.delenv("RLSCALING_TRL_PYTHON", raising=False)
    monkeypatch.delenv("RLSCALING_TRANSFORMERS_PYTHON", raising=False)
    cfg = rc.load_config(MICRO)
    env = job_environment(cfg, "/repo/src", False, "/usr/bin/python3", {"PYTHONPATH": "/repo/src:/x"})
    assert env["HF_HUB_OFFLINE"] == env["HF_DATASETS_OFFLINE"] == "1"
    assert env["PYTHONPATH"] == "/repo/src:/x" and env["TOKENIZERS_PARALLELISM"] == "false"
    assert {env[f"RLSCALING_JOB_PYTHON_{n}"] for n in ("GRPO", "EVALUATE", "VAL_LOSS")} == {"/usr/bin/python3"}
    online = copy.deepcopy(cfg)
    online["offline"] = False
    env = job_environment(online, "/repo/src", True, "/usr/bin/python3", {"TOKENIZERS_PARALLELISM": "true"})
    assert "HF_HUB_OFFLINE" not in env and "TOKENIZERS_PARALLELISM" not in env
    assert env["PYTHONPATH"] == "/repo/src" and env["RLSCALING_JOB_PYTHON_GRPO"] == "python"
