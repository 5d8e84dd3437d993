"""The rule files and their promtool tests, rendered together from the stack model.

The tests need the rule files' text (a per-service file that is another's renamed, byte for
byte, is tested once: renamed_files.py), so the two render in one step: the rule files first,
then the tests from the model with those texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obstack.alerts.promtool_tests import promtool_test_artifacts
from obstack.alerts.rule_files import rule_file_artifacts
from obstack.foundation.artifacts import Artifact

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel


def rule_and_test_artifacts(model: StackModel) -> list[Artifact]:
    rules = rule_file_artifacts(model)
    return [*rules, *promtool_test_artifacts(model, {artifact.path: artifact.content for artifact in rules})]
