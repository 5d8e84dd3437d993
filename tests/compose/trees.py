"""Generated trees for the compose and Kubernetes tests, and stack models with stand-in dashboards."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obstack.dashboards.generate import Dashboard
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import LoadedSpec, default_spec_text, load_spec_text
from obstack.stack.stack_model import StackModel, build_stack_model
from obstack.stack.validate.validator import ValidationContext
from obstack.stack.writer import write_tree

# Upstream schemas vendored for the tests (tests/schemas/SOURCES.md names each one's origin).
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def with_fake_dashboards(model: StackModel) -> StackModel:
    """The model with two stand-in dashboards (one in a folder of its own) instead of its own."""
    fakes = (Dashboard(PurePosixPath("grafana/dashboards/overview.json"), {"title": "Overview", "uid": "ov"}),
             Dashboard(PurePosixPath("grafana/dashboards/services/api.json"), {"title": "API", "uid": "api"}))
    return dataclasses.replace(model, dashboards=fakes, user_dashboards=())


def without_dashboards(model: StackModel) -> StackModel:
    return dataclasses.replace(model, dashboards=(), user_dashboards=())


def model_of(loaded: LoadedSpec) -> StackModel:
    return build_stack_model(loaded.spec, loaded.user_files)


def spec_with(change: Callable[[dict[str, Any]], None] | None = None) -> LoadedSpec:
    """The default spec, optionally changed as data before loading."""
    data = yaml.safe_load(default_spec_text())
    if change is not None:
        change(data)
    return load_spec_text(yaml.safe_dump(data, sort_keys=False), "test.yaml")


def build_tree(out: Path, loaded: LoadedSpec | None = None) -> ValidationContext:
    loaded = loaded or spec_with()
    artifacts = generate(loaded)
    write_tree(out, artifacts)
    return ValidationContext(out, loaded, artifacts)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
