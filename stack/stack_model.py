"""The stack model: everything the renderers read, built once per generate from the spec.

``Spec -> StackModel -> renderers``: the rule files (the spec's alert overrides applied), their
documents and the series they record, the Prometheus and Alertmanager configs, the dashboards
(generated, then your own). Every artifact renders from this one model, so no renderer rebuilds
the rules or re-reads another renderer's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from obstack.alerts.alertmanager_config import alertmanager_config
from obstack.alerts.prometheus_config import prometheus_config
from obstack.alerts.renamed_texts import rule_texts
from obstack.alerts.rule_files import RuleDocument, rule_documents, rule_files
from obstack.alerts.rule_model import RecordingRule, RuleFile
from obstack.alerts.user_rules import user_rule_documents
from obstack.dashboards.generate import Dashboard, generated_dashboards
from obstack.dashboards.provisioning import dashboards_config
from obstack.dashboards.user_dashboards import user_dashboards
from obstack.stack.spec.model import Spec


@dataclass(frozen=True)
class StackModel:
    """What every renderer reads; its values are not to be changed (a renderer copies what it edits)."""

    spec: Spec
    # (path relative to the spec, text) of your own rule, test and dashboard files.
    user_files: tuple[tuple[str, str], ...]
    rule_files: tuple[RuleFile, ...]  # the generated rules, overrides applied
    rule_documents: tuple[RuleDocument, ...]  # the same, as Prometheus reads them
    user_rule_documents: tuple[RuleDocument, ...]  # your own rule files that parse
    recorded_series: Mapping[str, tuple[PurePosixPath, ...]]  # record name -> the files recording it
    prometheus_config: Mapping[str, Any]
    alertmanager_config: Mapping[str, Any]
    dashboard_providers: Mapping[str, Any]  # grafana/provisioning/dashboards/dashboards.yml as a dict
    dashboards: tuple[Dashboard, ...]  # generated
    user_dashboards: tuple[Dashboard, ...]  # yours (grafana.extra_dashboards_dir)

    def rule_bodies(self) -> list[tuple[str, Mapping[str, Any]]]:
        """(file stem, body) of every rule file Prometheus loads: the generated ones, then yours (a
        name a generated file has is the generated file's)."""
        return [(document.path.stem, document.body) for document in self.loaded_rule_documents]

    @property
    def loaded_rule_documents(self) -> list[RuleDocument]:
        """Every rule file Prometheus loads: the generated ones, then yours (a name a generated
        file has is the generated file's)."""
        generated = {document.path for document in self.rule_documents}
        return [*self.rule_documents, *(d for d in self.user_rule_documents if d.path not in generated)]

    @cached_property
    def rule_texts(self) -> dict[PurePosixPath, str]:
        """Each loaded rule file's body as YAML, written once for the rule files and their
        PrometheusRule copies; a per-service file renamed from an earlier one by renaming its text
        (alerts/renamed_texts.py: at a thousand services, writing them all was a fifth of generation)."""
        return rule_texts([(document.path, document.body) for document in self.loaded_rule_documents])

    @property
    def all_dashboards(self) -> tuple[Dashboard, ...]:
        return self.dashboards + self.user_dashboards

    @property
    def dashboards_root(self) -> str:
        """Where Grafana's file provider reads the dashboards, in its container."""
        return self.dashboard_providers["providers"][0]["options"]["path"]


def recorded_series(files: Sequence[RuleFile]) -> dict[str, tuple[PurePosixPath, ...]]:
    """Each recorded series' name and the files recording it (one per service for a per-service
    recording), in file order."""
    recorded: dict[str, dict[PurePosixPath, None]] = {}
    for rule_file in files:
        for group in rule_file.groups:
            for rule in group.rules:
                if isinstance(rule, RecordingRule):
                    recorded.setdefault(rule.record, {})[rule_file.path] = None
    return {name: tuple(paths) for name, paths in recorded.items()}


def build_stack_model(spec: Spec, user_files: Sequence[tuple[str, str]] = ()) -> StackModel:
    """The model of ``spec``; ``user_files`` are the texts the loader read (``LoadedSpec.user_files``):
    without them (a bare spec, in a test) the model holds no rule file or dashboard of your own."""
    files = tuple(rule_files(spec))
    return StackModel(
        spec=spec,
        user_files=tuple(user_files),
        rule_files=files,
        rule_documents=rule_documents(files),
        user_rule_documents=user_rule_documents(spec, user_files),
        recorded_series=recorded_series(files),
        prometheus_config=prometheus_config(spec),
        alertmanager_config=alertmanager_config(spec, files),
        dashboard_providers=dashboards_config(spec),
        dashboards=generated_dashboards(spec),
        user_dashboards=user_dashboards(spec, user_files),
    )
