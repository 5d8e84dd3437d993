"""The CLI surface: help, version, schema, init, `python -m stack`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from stack import __version__
from stack.cli import app
from stack.spec.loader import default_spec_text, load_spec

runner = CliRunner()
COMMANDS = ["generate", "validate", "docs", "schema", "init"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"obstack {__version__}"


def test_python_dash_m_stack_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "stack", "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("obstack ")


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_schema_is_json_schema_that_accepts_the_default_spec() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(default_spec_text())))
    # Editors complete keys and flag typos from it.
    assert list(validator.iter_errors({"project": "x", "servces": []}))
    assert "services" in schema["properties"]


def test_init_writes_the_commented_default_spec_and_it_loads(tmp_path: Path) -> None:
    target = tmp_path / "stack.yaml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0
    text = target.read_text()
    assert text == default_spec_text()
    assert text.count("#") > 10, "the starter spec explains itself"
    assert load_spec(target).spec.services[0].name == "bookmark-api"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "stack.yaml"
    target.write_text("mine\n")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert target.read_text() == "mine\n"
    assert runner.invoke(app, ["init", str(target), "--force"]).exit_code == 0
    assert target.read_text() == default_spec_text()


def test_default_spec_is_the_bookmark_api() -> None:
    spec = load_spec().spec
    assert [s.name for s in spec.services] == ["bookmark-api"]
    service = spec.services[0]
    assert service.job == "bookmark-api" and service.targets == ["bookmark-api:3001"]
    assert service.health_url.endswith(":3001/health")
    assert [(d.name, d.kind, getattr(d, "dsn_env", None) or getattr(d, "url_env", None)) for d in spec.datastores] == [
        ("main", "postgres", "BOOKMARK_PG_DSN"),
        ("cache", "redis", "BOOKMARK_REDIS_URL"),
    ]
    assert [(q.name, q.backend, q.prefix, q.dead_letter) for q in spec.queues] == [
        ("bookmark-import", "bullmq", "bull", "bookmark-import-dlq"),
        ("link-check", "bullmq", "bull", None),
    ]
    routes = {(r.severity, r.receiver) for r in spec.notifications.routes}
    assert routes == {("critical", "pager"), ("warning", "chat")}
    assert {r.type for r in spec.notifications.receivers} == {"webhook"}
