"""The dashboard lint as a validator: the generated dashboards against the metric catalog, the
provisioned datasources and the spec's lint exclusions."""

from __future__ import annotations

import json
from typing import Any


from obstack.alerts.rule_files import RULES_DIR
from obstack.dashboards.dashboard_lint import LINT_RULES, VALIDATOR, lint_dashboard
from obstack.dashboards.generate import DASHBOARDS_DIR
from obstack.dashboards.provisioning import PROVISIONING_DIR
from obstack.foundation.artifacts import load_yaml
from obstack.foundation.findings import Finding
from obstack.foundation.lint_exclusions import apply_exclusions
from obstack.stack.spec.series import build_catalog
from obstack.stack.validate.lint_inputs import read_exclusions, read_parsed
from obstack.stack.validate.validator import ValidationContext, ValidatorResult

DATASOURCES_FILE = PROVISIONING_DIR / "datasources" / "datasources.yml"


def _rule_files(context: ValidationContext, result: ValidatorResult) -> dict[str, Any]:
    """The rule files in the tree (your own among them): their recording rules feed the catalog."""
    files = {}
    for path in sorted((context.out / RULES_DIR).glob("*.yml")):
        files[path.relative_to(context.out).as_posix()] = read_parsed(path, str(path), result, load_yaml)
    return {name: data for name, data in files.items() if isinstance(data, dict)}


def _datasource_uids(context: ValidationContext, result: ValidatorResult) -> dict[str, str]:
    data = read_parsed(context.out / DATASOURCES_FILE, DATASOURCES_FILE.as_posix(), result, load_yaml)
    sources = data.get("datasources") if isinstance(data, dict) else None
    return {str(s["uid"]): str(s.get("type")) for s in sources or [] if isinstance(s, dict) and "uid" in s}


def dashboard_lint_validator(context: ValidationContext) -> ValidatorResult:
    """Every dashboard under grafana/dashboards/ (any folder) passes the lint rules (dashboards.dashboard_lint.LINT_RULES)."""
    result = ValidatorResult(VALIDATOR)
    catalog = build_catalog(context.loaded.spec, _rule_files(context, result))
    uids = _datasource_uids(context, result)
    exclusions = read_exclusions(context, result, context.loaded.spec.grafana.lint_exclusions, LINT_RULES)
    paths = sorted((context.out / DASHBOARDS_DIR).rglob("*.json"))  # one directory per Grafana folder
    found = []
    for path in paths:
        shown = path.relative_to(context.out).as_posix()
        data = read_parsed(path, shown, result, json.loads)
        if isinstance(data, dict):
            found += lint_dashboard(shown, data, catalog, uids)
    result.findings += apply_exclusions(found, exclusions)
    if not paths:
        result.findings.append(Finding(VALIDATOR, "error", DASHBOARDS_DIR.as_posix(), "",
                                       "no dashboards; run `obstack generate` first"))
    if not result.failed:
        result.summary = f"{len(paths)} dashboards, {len(exclusions)} exclusions, no findings"
    return result
