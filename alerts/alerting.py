"""Every alerting artifact of a spec from one computation of its rule files.

The rule files (rules, their scenarios, dashboard links) are the most expensive model to build
and four generators read them: the rule files themselves, their promtool tests, the Alertmanager
config (inhibition follows the alert families) and docs/alerts.md. One generator builds the
model once and hands it to the four.
"""

from __future__ import annotations

from alerts.alertmanager_config import alertmanager_artifacts
from alerts.docs import alerts_doc_artifacts
from alerts.promtool_tests import promtool_test_artifacts
from alerts.rule_files import rule_file_artifacts, rule_files
from foundation.artifacts import Artifact
from stack.spec.model import Spec


def alerting_artifacts(spec: Spec) -> list[Artifact]:
    files = rule_files(spec)
    rules = rule_file_artifacts(spec, files)
    return [*rules, *promtool_test_artifacts(spec, files, {artifact.path: artifact.content for artifact in rules}),
            *alertmanager_artifacts(spec, files), *alerts_doc_artifacts(spec, files)]
