"""What a renderer makes of a spec: its stack model built, then the one renderer run over it."""

from __future__ import annotations

from obstack.alerts.alerting import rule_and_test_artifacts
from obstack.foundation.artifacts import Artifact
from obstack.stack.pipeline import Renderer
from obstack.stack.spec.model import Spec
from obstack.stack.stack_model import build_stack_model


def rendered(spec: Spec, renderer: Renderer) -> list[Artifact]:
    return renderer(build_stack_model(spec))


def promtool_tests(spec: Spec) -> list[Artifact]:
    """The generated promtool test files (rendered with the rule files they read)."""
    return [a for a in rendered(spec, rule_and_test_artifacts) if a.kind == "prometheus-tests"]
