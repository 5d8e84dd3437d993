"""The CLI surface: help, version, schema, init, `python -m obstack`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from typer.testing import CliRunner

from obstack.stack import __version__
from obstack.stack.cli import app
from obstack.stack.spec.loader import default_spec_text, load_spec

runner = CliRunner()


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the CLI, read from the Typer app: a new one is covered without an edit here."""
    paths = [path] if path else []
    for name, child in sorted(getattr(command, "commands", {}).items()):  # a group's commands
        paths += command_paths(child, (*path, name))
    return paths


CLI = typer.main.get_command(app)
COMMAND_PATHS = command_paths(CLI)


def test_the_walk_finds_the_commands_and_the_subcommands() -> None:
    # A broken walk would make the parametrized tests below vanish instead of fail.
    assert {("generate",), ("validate",), ("deploy",), ("local",), ("local", "up")} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_every_command_and_subcommand_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: obstack {' '.join(path)}" in " ".join(result.output.split())


GROUP_PATHS = [()] + [p for p in COMMAND_PATHS if len(p) == 1 and hasattr(CLI.commands[p[0]], "commands")]


@pytest.mark.parametrize("path", GROUP_PATHS, ids=lambda path: " ".join(path) or "obstack")
def test_help_lists_every_command_of_its_group(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    listed = {p[len(path)] for p in COMMAND_PATHS if len(p) == len(path) + 1 and p[:len(path)] == path}
    assert listed and all(name in result.output for name in listed)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"obstack {__version__}"


def test_python_dash_m_stack_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "obstack", "--version"], capture_output=True, text=True, check=False)
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
