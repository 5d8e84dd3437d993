"""Alertmanager validators: amtool check-config, routing of every generated alert, the templates
rendered by amtool, and the inhibit rules evaluated against scenarios built from the rules.

Each is ``ValidationContext -> ValidatorResult``; a missing amtool fails visibly (ToolMissing).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from obstack.alerts.alertmanager_config import (
    ALERT_TEMPLATES,
    CONFIG_PATH,
    MAY_RENDER_EMPTY,
    TEMPLATE_KINDS,
    TEMPLATES_GLOB,
    TEMPLATES_PATH,
    all_alert_rules,
)
from obstack.alerts.routing import (
    InhibitionScenario,
    RoutingExpectation,
    inhibition_scenarios,
    routing_expectations,
    scenario_disagreements,
)
from obstack.alerts.rule_model import AlertRule
from obstack.foundation.findings import Finding
from obstack.stack.validate.tools import ToolMissing, ToolRun, run_tool
from obstack.stack.validate.validator import ValidationContext, ValidatorResult

_CONFIG = CONFIG_PATH.as_posix()
_DEFINE_RE = re.compile(r'{{-?\s*define\s+"([^"]+)"')
# amtool calls are ~20 ms each; a few in parallel keep a large spec's route check quick.
_PARALLEL = 4


def _last_lines(output: str, count: int = 4) -> str:
    return " | ".join(_lines(output)[-count:]) or "failed without output"


def _lines(output: str) -> list[str]:
    # amtool warns on every run that --config.file overrides --alertmanager.url: noise here.
    lines = (line.strip() for line in output.splitlines())
    return [line for line in lines if line and not line.startswith("Warning: --config.file")]


def _missing_config(result: ValidatorResult, context: ValidationContext) -> bool:
    if (context.out / CONFIG_PATH).is_file():
        return False
    result.findings.append(Finding(result.name, "error", _CONFIG, "", "not generated; run `obstack generate`"))
    return True


def _load_config(result: ValidatorResult, context: ValidationContext) -> dict[str, Any] | None:
    """The parsed config, or None with a finding (a hand-broken file must not crash the validator)."""
    try:
        config = yaml.safe_load((context.out / CONFIG_PATH).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        result.findings.append(Finding(result.name, "error", _CONFIG, "", f"not valid YAML: {error}"))
        return None
    return config if isinstance(config, dict) else {}


def _tool_missing(result: ValidatorResult, missing: ToolMissing, file: str) -> ValidatorResult:
    result.tool_missing = True
    result.findings.append(Finding(result.name, "error", file, "", str(missing)))
    return result


def _parallel(function: Callable[[Any], ToolRun], items: Sequence[Any]) -> list[ToolRun]:
    with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
        return list(pool.map(function, items))


# ---------------------------------------------------------------------------------------------
# amtool check-config


def check_config(result: ValidatorResult, config: Path, file: str) -> bool:
    """`amtool check-config` on config, run in its directory so a relative templates glob resolves there
    (amtool also parses the templates the glob matches). A rejection or a missing amtool becomes a
    finding on ``file``; True when amtool accepted it."""
    try:
        run = run_tool("amtool", ["check-config", config.name], cwd=config.parent)
    except ToolMissing as missing:
        _tool_missing(result, missing, file)
        return False
    if run.returncode != 0:
        result.findings.append(Finding(result.name, "error", file, "", _last_lines(run.output)))
        return False
    return True


def amtool_config_validator(context: ValidationContext) -> ValidatorResult:
    """`amtool check-config` on alertmanager.yml (it also parses the templates it names)."""
    result = ValidatorResult("amtool check-config")
    if _missing_config(result, context):
        return result
    if check_config(result, context.out / CONFIG_PATH, _CONFIG):
        result.summary = f"{_CONFIG} is valid"
    return result


# ---------------------------------------------------------------------------------------------
# amtool config routes test


def route_findings(validator: str, config: Path, expectations: Sequence[RoutingExpectation]) -> list[Finding]:
    """One finding per expectation amtool routes elsewhere (raises ToolMissing without amtool)."""
    def test(expectation: RoutingExpectation) -> ToolRun:
        labels = [f"{name}={value}" for name, value in expectation.labels.items()]
        return run_tool("amtool", ["config", "routes", "test", f"--config.file={config}",
                                   f"--verify.receivers={expectation.receiver}", *labels], timeout=60)

    findings = []
    for expectation, run in zip(expectations, _parallel(test, expectations)):
        if run.returncode != 0:
            resolved = next(iter(_lines(run.output)), "nothing")
            labels = " ".join(f"{name}={value}" for name, value in expectation.labels.items())
            findings.append(Finding(validator, "error", _CONFIG, expectation.alertname,
                                    f"{labels} routes to '{resolved}', expected '{expectation.receiver}'"))
    return findings


def amtool_routes_validator(context: ValidationContext) -> ValidatorResult:
    """Every generated alert, per owning team, reaches the receiver the spec's routes name."""
    result = ValidatorResult("amtool config routes test")
    if _missing_config(result, context):
        return result
    spec = context.loaded.spec
    expectations = routing_expectations(spec, all_alert_rules(context.rule_files))
    try:
        result.findings.extend(route_findings(result.name, context.out / CONFIG_PATH, expectations))
    except ToolMissing as missing:
        return _tool_missing(result, missing, _CONFIG)
    if not result.findings:
        receivers = sorted({e.receiver for e in expectations})
        result.summary = (f"{len(expectations)} alert/severity/team combinations route as the spec says "
                          f"({', '.join(receivers)})")
    return result


# ---------------------------------------------------------------------------------------------
# amtool template render


def sample_template_data(rules: Sequence[AlertRule]) -> dict[str, Any]:
    """Notification data in Alertmanager's template.Data layout: a firing alert with runbook and
    dashboard links and a resolved one without a dashboard, so every branch of a block renders."""
    alerts = []
    for index, rule in enumerate(rules[:2]):
        labels = {"alertname": rule.name, **rule.labels, **rule.instances[0].labels}
        annotations = {"summary": rule.summary, "description": rule.meaning, "runbook_url": rule.runbook_url}
        if index == 0:
            annotations["dashboard_url"] = rule.dashboard_url or "https://grafana.example.com/d/obstack"
        alerts.append({
            "status": "firing" if index == 0 else "resolved", "labels": labels, "annotations": annotations,
            "startsAt": "2024-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z" if index == 0 else "2024-01-01T00:10:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{index:016x}",
        })
    first = alerts[0]["labels"] if alerts else {}
    return {"receiver": "sample", "status": "firing", "alerts": alerts,
            "groupLabels": {k: v for k, v in first.items() if k in ("alertname", "service", "queue", "datastore")}
            | {"environment": "production", "cluster": "eu-1"},  # external labels, grouped by
            "commonLabels": {k: first[k] for k in ("severity", "team") if k in first},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093"}


def _config_templates(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, template text) of every templated field of the receivers."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")
        elif isinstance(node, str) and "{{" in node:
            found.append((where.lstrip("."), node))

    walk(config.get("receivers", []), "receivers")
    return found


def _invocation(name: str) -> str:
    call = '{{ template "' + name + '" . }}'
    return "{{ range .Alerts }}" + call + "{{ end }}" if name in ALERT_TEMPLATES else call


def amtool_template_validator(context: ValidationContext) -> ValidatorResult:
    """`amtool template render` of each named template and each templated config field, with
    amtool's example data and with sample alerts from the rules; an error or empty output fails."""
    result = ValidatorResult("amtool template render")
    templates = context.out / TEMPLATES_PATH
    if _missing_config(result, context):
        return result
    if not templates.is_file():
        result.findings.append(Finding(result.name, "error", TEMPLATES_PATH.as_posix(), "", "not generated"))
        return result
    config = _load_config(result, context)
    if config is None:
        return result
    names = _DEFINE_RE.findall(templates.read_text(encoding="utf-8"))
    # What to render: each defined template, then each config field (the HTML field as HTML).
    jobs = [(TEMPLATES_PATH.as_posix(), name, _invocation(name), TEMPLATE_KINDS.get(name, "text")) for name in names]
    jobs += [(_CONFIG, where, text, "html" if where.endswith(".html") else "text")
             for where, text in _config_templates(config)]
    glob = str(context.out / CONFIG_PATH.parent / TEMPLATES_GLOB)
    with tempfile.TemporaryDirectory(prefix="obstack-am-") as scratch:
        data = Path(scratch) / "data.json"
        sample = sample_template_data(all_alert_rules(context.rule_files))
        data.write_text(json.dumps(sample), encoding="utf-8")

        def render(job: tuple[tuple[str, str, str, str], list[str]]) -> ToolRun:
            (_, _, text, kind), extra = job
            return run_tool("amtool", ["template", "render", f"--template.glob={glob}", f"--template.text={text}",
                                       f"--template.type={kind}", *extra], timeout=60)

        runs = [(job, extra) for job in jobs for extra in ([], [f"--template.data={data}"])]
        try:
            outcomes = _parallel(render, runs)
        except ToolMissing as missing:
            return _tool_missing(result, missing, TEMPLATES_PATH.as_posix())
    for ((file, where, _, _), extra), run in zip(runs, outcomes):
        data_name = "sample alerts" if extra else "amtool's example data"
        if run.returncode != 0:
            message = f"with {data_name}: {_last_lines(run.output)}"
            result.findings.append(Finding(result.name, "error", file, where, message))
        elif not run.output.strip() and where not in MAY_RENDER_EMPTY:
            result.findings.append(Finding(result.name, "error", file, where, f"renders empty with {data_name}"))
    if not result.findings:
        result.summary = f"{len(names)} templates and {len(jobs) - len(names)} config fields render"
    return result


# ---------------------------------------------------------------------------------------------
# Inhibition


def inhibition_validator(context: ValidationContext) -> ValidatorResult:
    """The inhibit rules in alertmanager.yml, evaluated with Alertmanager's semantics: each silences
    its target on the same subject, never alone, never on another subject; none is dead."""
    result = ValidatorResult("inhibition")
    if _missing_config(result, context):
        return result
    config = _load_config(result, context)
    if config is None:
        return result
    rules = config.get("inhibit_rules") or []
    scenarios: list[InhibitionScenario] = []
    try:
        scenarios, problems = inhibition_scenarios(rules, all_alert_rules(context.rule_files))
        problems += scenario_disagreements(rules, scenarios)
    except ValueError as error:  # a matcher the evaluator cannot parse
        problems = [str(error)]
    result.findings.extend(Finding(result.name, "error", _CONFIG, "inhibit_rules", p) for p in problems)
    if not result.findings:
        result.summary = f"{len(rules)} inhibit rules, {len(scenarios)} scenarios agree"
    return result
