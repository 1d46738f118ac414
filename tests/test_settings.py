"""The settings' typed layer (pipeline/settings.py, issue 27 part 3): the resources expose its defaults, a wrong
or unknown setting is an error naming it, the environment is read in one function, once per command and never
at import, and the Comtrade key is read in that one place only."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[1]
OUR_VARIABLES = ("GEOMON_DATA_DIR", "COMTRADE_API_KEY", "GEOMON_SERVE_TOKEN", "DAGSTER_HOME")


class SpiedEnviron(dict):
    """os.environ standing in for the process's, counting every read of a variable (get, [], in)."""

    def __init__(self, values):
        super().__init__(values)
        self.reads: list[str] = []

    def __getitem__(self, name):
        self.reads.append(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.reads.append(name)
        return super().get(name, default)

    def __contains__(self, name):
        self.reads.append(name)
        return super().__contains__(name)

    def count(self, name: str) -> int:
        return self.reads.count(name)


# --------------------------------------------------------------------------- defaults


def test_the_resources_expose_the_typed_layers_fields_and_defaults():
    from pipeline.resources import DataFolder, InputSettings, Thresholds
    from pipeline.settings import DataFolderSettings, GuardLimits, InputSelection, ScreenThresholds

    pairs = [(DataFolder, [DataFolderSettings]), (InputSettings, [InputSelection, GuardLimits]),
             (Thresholds, [ScreenThresholds])]
    for resource, groups in pairs:
        layer = {name: field for group in groups for name, field in group.model_fields.items()}
        own = set(resource.model_fields) - set(layer)
        assert own <= {"restricted_tables"}, own  # the access classes' field, not a setting of the layer
        for name, field in layer.items():
            exposed = resource.model_fields[name]
            assert (exposed.annotation, exposed.default, exposed.description) == \
                (field.annotation, field.default, field.description), f"{resource.__name__}.{name}"
    # the values a run gets without configuration are the typed layer's defaults, and the documented ones
    # (docs/methodology.md: C1 and G1 at HHI > 0.4, the CRMA benchmark at 0.65)
    assert Thresholds().sql_variables() == ScreenThresholds().sql_variables()
    assert ScreenThresholds().ec_c1_hhi == 0.4 and ScreenThresholds().world_g1_hhi == 0.4
    assert ScreenThresholds().crma_benchmark == 0.65 and ScreenThresholds().sql_variables()["hs_target_edition"] == 6
    settings = InputSettings()
    assert settings.sources == ["sample", "demo", "landing", "api"] and settings.guard().max_table_drop == 0.2
    assert DataFolder(root="/x").keep_snapshots == DataFolderSettings().keep_snapshots == 10


def test_the_sql_models_may_read_exactly_the_thresholds_handed_to_sql():
    from pipeline.settings import ScreenThresholds
    from pipeline.sql_models import settings_names

    assert settings_names() == set(ScreenThresholds.model_fields)
    assert "min_world_reporters" in settings_names() and "sources" not in settings_names()


# --------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize("values, message", [
    ({"min_world_reporter": 1}, "unknown setting 'min_world_reporter'; did you mean 'min_world_reporters'?"),
    ({"min_world_reporters": "many"}, "setting 'min_world_reporters': Input should be a valid integer, unable to "
                                      "parse string as an integer (got 'many')"),
    ({"max_table_drop": 1.5}, "setting 'max_table_drop': Input should be less than or equal to 1 (got 1.5)"),
    ({"sources": ["landng"]}, "setting 'sources': unknown source folder(s) ['landng']; use sample, demo, landing, api "
                              "(got ['landng'])"),
    ({"hs_target_edition": "H7"}, "setting 'hs_target_edition': hs_target_edition must be H0..H6 (HS 1992..HS 2022), "
                                  "not 'H7' (got 'H7')"),
])
def test_a_wrong_or_unknown_setting_is_an_error_naming_it(values, message):
    from pipeline.definitions import definitions
    from pipeline.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as typed:
        Settings.from_values(values)
    assert str(typed.value) == message
    # definitions(...) takes the same names (the CLI's flags, tests): the same message
    with pytest.raises(SettingsError) as defs:
        definitions(data_dir="/nonexistent", comtrade_key="", **values)
    assert str(defs.value) == message


@pytest.mark.parametrize("config, message", [
    ("resources: {thresholds: {config: {min_world_reporters: many}}}",
     "setting 'min_world_reporters' in resources.thresholds: Input should be a valid integer, unable to parse string "
     "as an integer (got 'many')"),
    ("resources: {settings: {config: {sorces: [sample]}}}",
     "unknown setting 'sorces' in resources.settings; did you mean 'sources'?"),
    ("resources: {settings: {config: {ec_c1_hhi: 0.3}}}",  # a threshold under the inputs' resource
     "unknown setting 'ec_c1_hhi' in resources.settings"),
])
def test_geomon_run_names_a_wrong_setting_of_its_config_file_before_any_run(config, message, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(config)
    # a unit test: were the job started, the tiers' guard (tests/conftest.py) would fail it
    assert main(["--data-dir", str(tmp_path / "data"), "run", "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"geomon run: --config {path}: {message}"


# --------------------------------------------------------------------------- the environment


def test_the_environment_is_read_in_one_function_and_secrets_are_masked():
    from pipeline.settings import read_environment

    env = read_environment({"COMTRADE_API_KEY": " planted-key-1 ", "GEOMON_SERVE_TOKEN": "planted-token-2",
                            "GEOMON_DATA_DIR": "/data/x"})
    assert env.comtrade_key.get_secret_value() == "planted-key-1" and env.data_dir == "/data/x"
    for shown in (repr(env), str(env), f"{env}", str(env.model_dump())):
        assert "planted" not in shown
    assert read_environment({}).comtrade_key.get_secret_value() == ""


def test_a_command_reads_each_variable_once(tmp_path, monkeypatch, capsys):
    """`geomon fetch comtrade --dry-run` needs the data folder, DAGSTER_HOME's absence and the key (the plan
    differs with and without one): each is read once, when the command starts."""
    spy = SpiedEnviron({k: v for k, v in os.environ.items() if k not in OUR_VARIABLES})
    spy["COMTRADE_API_KEY"] = "planted-key-3"
    spy["GEOMON_DATA_DIR"] = str(tmp_path / "data")
    monkeypatch.setattr(os, "environ", spy)
    code = main(["fetch", "comtrade", "--reporters", "528", "--years", "2023", "--dry-run", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (tmp_path / "data").is_dir()  # the data folder came from the environment
    assert "keyed, 100,000 records per call" in out.out  # the key was seen ...
    assert "planted-key-3" not in out.out + out.err  # ... and not shown
    assert {name: spy.count(name) for name in OUR_VARIABLES} == dict.fromkeys(OUR_VARIABLES, 1)


def test_without_a_key_the_same_command_plans_for_the_keyless_preview(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    code = main(["--data-dir", str(tmp_path), "fetch", "comtrade", "--reporters", "528", "--years", "2023",
                 "--dry-run", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "keyless preview, 500 records per call" in out.out


def test_the_serve_token_comes_from_the_environment_the_command_read(monkeypatch):
    from pipeline.serve import read_token
    from pipeline.settings import read_environment, using

    monkeypatch.setenv("GEOMON_SERVE_TOKEN", "token-of-the-process")
    with using(read_environment({"GEOMON_SERVE_TOKEN": "token-read-at-start"})):
        assert read_token() == b"token-read-at-start"
    assert read_token() == b"token-of-the-process"  # outside a command: the environment now
    assert read_token({"GEOMON_SERVE_TOKEN": "  "}) is None


# Where the process environment may still be read outside pipeline/settings.py, and why.
ALLOWED_READS = {
    ("pipeline/definitions.py", "EnvVar(DATA_DIR_ENV)"),  # the UI's runs: Dagster resolves it when a run starts
    ("pipeline/serve.py", 'os.environ.get("GEOMON_SERVE_QUIET")'),  # a test switch of the request log
    ("bench/harness.py", "os.environ"),  # hands the environment to the measured child processes
}
READS = re.compile(r"\bos\.environ(?:\.get\([^)]*\))?|\bos\.getenv|\bEnvVar\([A-Z_]*\)|from os import .*\benviron\b")


def test_only_the_settings_module_reads_the_environment():
    found = set()
    for folder in ("pipeline", "assets", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative == "pipeline/settings.py":
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                code = line.split("#")[0]
                found |= {(relative, match) for match in READS.findall(code)}
    assert found == ALLOWED_READS
    settings = (REPO / "pipeline" / "settings.py").read_text(encoding="utf-8")
    assert settings.count("os.environ") == 1  # read_environment's


@pytest.mark.pipeline
def test_nothing_reads_the_environment_at_import(tmp_path):
    """Importing every module of pipeline/ and assets/ (the definitions, which build every asset, among them)
    reads none of geomon's variables."""
    import subprocess
    import sys

    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                     for folder in ("pipeline", "assets") for p in (REPO / folder).rglob("*.py")
                     if p.name != "__main__.py")
    script = tmp_path / "imports.py"
    script.write_text(f"""
import importlib, os
reads = []
class Spy(dict):
    def __getitem__(self, k): reads.append(k); return super().__getitem__(k)
    def get(self, k, d=None): reads.append(k); return super().get(k, d)
    def __contains__(self, k): reads.append(k); return super().__contains__(k)
os.environ = Spy(os.environ)
for name in {modules!r}:
    importlib.import_module(name)
print(sorted(set(reads) & {set(OUR_VARIABLES)!r}))
""")
    env = {**os.environ, "COMTRADE_API_KEY": "k", "GEOMON_DATA_DIR": str(tmp_path), "GEOMON_SERVE_TOKEN": "t"}
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
