"""Cross-reference checks over a validated spec: names, references, cycles, coherence.

Each check is a function ``Spec -> list[(yaml path, message)]``; the loader turns the
path into a line number. Paths index the lists as the user wrote them.
"""

from __future__ import annotations

import re
import string
from pathlib import PurePosixPath
from collections.abc import Callable, Iterator
from typing import Any

from .model import ALERTMANAGER_FLOOR, OMITTED_BY_AGGREGATION, PROMETHEUS_FLOOR, Spec
from .positions import YamlPath
from .selector_examples import example_labels
from .selectors import CounterSelector

Issue = tuple[YamlPath, str]

RUNBOOK_PLACEHOLDERS = frozenset({"project", "alert", "alert_lower"})


def _entities(spec: Spec) -> Iterator[tuple[str, int, str]]:
    """(section, index, name) of every named service, datastore and queue."""
    for section in ("services", "datastores", "queues"):
        for index, entry in enumerate(getattr(spec, section)):
            yield section, index, entry.name


def unique_names(spec: Spec) -> list[Issue]:
    """Names are unique across services, datastores and queues: depends_on refers to them by name."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for section, index, name in _entities(spec):
        if name in seen:
            issues.append(((section, index, "name"), f"duplicate name '{name}' (already used by {seen[name]})"))
        else:
            seen[name] = f"{section}[{index}]"
    issues += _unique((("services", i, "job"), s.job) for i, s in enumerate(spec.services))
    for index, service in enumerate(spec.services):
        if service.job in spec.stack_jobs:
            issues.append(
                (("services", index, "job"), f"job '{service.job}' is taken by the monitoring stack "
                                             f"({', '.join(spec.stack_jobs)}); set another 'job'")
            )
    if spec.host is not None and spec.stack_jobs.count(spec.host.job) > 1:
        issues.append((("host", "job"), f"job '{spec.host.job}' is taken by the monitoring stack; set another 'job'"))
    issues += _unique((("notifications", "receivers", i, "name"), r.name) for i, r in enumerate(spec.notifications.receivers))
    for i, service in enumerate(spec.services):
        issues += _unique((("services", i, "slos", j, "name"), slo.name) for j, slo in enumerate(service.slos))
    return issues


def _unique(entries: Any) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    for path, value in entries:
        if value in seen:
            issues.append((path, f"duplicate {path[-1]} '{value}'"))
        seen.add(value)
    return issues


def queue_datastores(spec: Spec) -> list[Issue]:
    issues: list[Issue] = []
    names = [d.name for d in spec.datastores]
    for index, queue in enumerate(spec.queues):
        path = ("queues", index, "datastore")
        store = spec.datastore(queue.datastore)
        if store is None:
            issues.append((path, f"unknown datastore '{queue.datastore}'{_choices(names)}"))
        elif store.kind != queue.datastore_kind:
            issues.append(
                (path, f"a {queue.backend} queue lives in {queue.datastore_kind}, but '{store.name}' is {store.kind}")
            )
        if queue.dead_letter == queue.name:
            issues.append((("queues", index, "dead_letter"), "the dead-letter queue must differ from the queue itself"))
    return issues


def dependencies(spec: Spec) -> list[Issue]:
    """depends_on names existing entries, never itself, and services form no cycle."""
    issues: list[Issue] = []
    known = [name for _, _, name in _entities(spec)]
    for index, service in enumerate(spec.services):
        for position, target in enumerate(service.depends_on):
            path = ("services", index, "depends_on", position)
            if target == service.name:
                issues.append((path, f"'{service.name}' cannot depend on itself"))
            elif target not in known:
                issues.append((path, f"unknown service, datastore or queue '{target}'{_choices(known)}"))
    cycle = _find_cycle({s.name: [d for d in s.depends_on if d != s.name] for s in spec.services})
    if cycle:
        index = next(i for i, s in enumerate(spec.services) if s.name == cycle[0])
        issues.append((("services", index, "depends_on"), "dependency cycle: " + " -> ".join(cycle)))
    return issues


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """The first cycle found by depth-first search, as a closed path [a, b, a]."""
    done: set[str] = set()
    for start in graph:
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        on_path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.pop()
                done.add(node)
            elif child in on_path:
                return on_path[on_path.index(child):] + [child]
            elif child in graph and child not in done:
                stack.append((child, iter(graph[child])))
                on_path.append(child)
    return None


def notification_references(spec: Spec) -> list[Issue]:
    notifications = spec.notifications
    names = [r.name for r in notifications.receivers]
    issues: list[Issue] = []
    for index, route in enumerate(notifications.routes):
        if route.receiver not in names:
            issues.append((("notifications", "routes", index, "receiver"), f"unknown receiver '{route.receiver}'{_choices(names)}"))
        if route.team is not None and route.team not in spec.teams:
            issues.append(
                (("notifications", "routes", index, "team"), f"no entry is owned by team '{route.team}'{_choices(spec.teams)}")
            )
        if route.severity is None and route.team is None:
            issues.append((("notifications", "routes", index), "a route needs 'severity' or 'team' (use default_receiver for the rest)"))
    if notifications.default_receiver is not None and notifications.default_receiver not in names:
        issues.append(
            (("notifications", "default_receiver"), f"unknown receiver '{notifications.default_receiver}'{_choices(names)}")
        )
    return issues + _watchdog_receiver(spec, names)


def _watchdog_receiver(spec: Spec, names: list[str]) -> list[Issue]:
    """The heartbeat receiver exists and receives nothing else (a real alert would count as a heartbeat)."""
    notifications = spec.notifications
    receiver = notifications.watchdog.receiver
    path = ("notifications", "watchdog", "receiver")
    if receiver is None:
        return []
    if receiver not in names:
        return [(path, f"unknown receiver '{receiver}'{_choices(names)}")]
    used = [r.receiver for r in notifications.routes] + [notifications.fallback_receiver]
    if receiver in used:
        return [(path, f"receiver '{receiver}' also receives other alerts (a route or the default receiver); "
                       "give the heartbeat a receiver of its own")]
    return []


def latency_buckets(spec: Spec) -> list[Issue]:
    """A latency SLO counts requests under its threshold from one histogram bucket: that bucket must exist."""
    issues: list[Issue] = []
    for index, service in enumerate(spec.services):
        buckets = service.request_metrics.buckets
        for position, slo in enumerate(service.slos):
            if slo.threshold is not None and not service.request_metrics.has_edge(slo.threshold.seconds):
                issues.append(
                    (
                        ("services", index, "slos", position, "threshold"),
                        f"{slo.threshold} ({slo.threshold.seconds:g}s) is not a bucket of "
                        f"{service.request_metrics.histogram} (le: {', '.join(f'{b:g}' for b in buckets)}); "
                        "pick one of those or declare the bucket under request_metrics.buckets",
                    )
                )
    return issues


def latency_thresholds_below_top_bucket(spec: Spec) -> list[Issue]:
    """histogram_quantile never reports more than the highest finite bucket bound, and a threshold
    between two bounds is compared at the next bound up ([latency-threshold-off-bucket]): a p95
    threshold whose bound is the highest one could never fire."""
    issues: list[Issue] = []
    for index, service in enumerate(spec.services):
        metrics = service.request_metrics
        top = max(metrics.buckets)
        for level in ("critical", "warning"):
            threshold = getattr(service.thresholds.latency_p95, level)
            if threshold is None:
                continue
            edge = metrics.edge_at_or_above(threshold.seconds)
            if edge is None or edge >= top - 1e-9:
                below = sorted(b for b in metrics.buckets if b < top)
                fix = f"use at most {below[-1]:g}s, or" if below else "declare more buckets:"
                issues.append((("services", index, "thresholds", "latency_p95", level),
                               f"{threshold} can never fire: a p95 read from {metrics.histogram} never exceeds its "
                               f"highest bucket ({top:g}s), and a threshold is compared at a bucket bound at or above "
                               f"it; {fix} declare a higher bucket under request_metrics.buckets"))
    return issues


def aggregated_start_time(spec: Spec) -> list[Issue]:
    """An aggregated PM2 endpoint (prom-client's AggregatorRegistry) drops process_start_time_seconds:
    restart alerts reading it would never fire."""
    return [(("services", index, "process_start_metric"),
             f"{OMITTED_BY_AGGREGATION} is dropped by prom-client's AggregatorRegistry (pm2.layout: aggregated), "
             "so restarts would go unseen; name a per-worker start-time gauge the workers expose (e.g. "
             "app_worker_start_time_seconds), or null to turn restart alerts off")
            for index, service in enumerate(spec.services)
            if service.pm2 is not None and service.pm2.layout == "aggregated"
            and service.process_start_metric == OMITTED_BY_AGGREGATION]


def alertable_slos(spec: Spec) -> list[Issue]:
    """An SLO for which no burn-rate window pair can fire is one nobody would hear about."""
    # Imported here: the window table is the alerting layer's data, read by this one check only.
    from obstack.alerts.slo_rules import alertable_windows, burn_threshold
    from obstack.alerts.timing import burn_windows

    issues: list[Issue] = []
    windows = burn_windows()
    for index, service in enumerate(spec.services):
        for position, slo in enumerate(service.slos):
            if alertable_windows(slo, windows):
                continue
            shown = "; ".join(f"{w.long}/{w.short} {float(w.burn_rate(slo.window)):.3g}x = "
                              f"{float(burn_threshold(slo, w)) * 100:.3g}% errors" for w in windows)
            issues.append((("services", index, "slos", position),
                           f"no burn-rate window pair can fire for objective {slo.objective} over {slo.window} "
                           f"({shown}; a pair needs a burn rate of at least 1x and fewer than 100% errors): "
                           "raise the objective or lengthen the window"))
    return issues


def event_slo_counters(spec: Spec) -> list[Issue]:
    """An events SLO's selectors name counters (where services[].metrics declares their metric, as a
    counter or a histogram's series), and pick its events apart: on one metric, the bad (or good)
    events are some of the total's, not all of them and not others."""
    declared = {metric.name: metric.type for service in spec.services for metric in service.metrics}
    issues: list[Issue] = []
    for index, service in enumerate(spec.services):
        for position, slo in enumerate(service.slos):
            counters = slo.event_counters
            if counters is None:
                continue
            form, counted, total = counters
            where = ("services", index, "slos", position)
            for key, selector in ((form, counted), ("total", total)):
                kind = declared.get(selector.metric)
                if kind == "gauge" or kind == "histogram":
                    fix = ("select its _count (every event) or a _bucket with le=\"...\" (the events under a bound)"
                           if kind == "histogram" else "name a counter")
                    issues.append(((*where, key), f"{selector.metric} is declared a {kind} in services[].metrics; "
                                                  f"an events SLO counts events: {fix}"))
            issues += [((*where, key), message) for key, message in _event_examples(form, counted, total)]
    return issues


def _event_examples(form: str, counted: CounterSelector, total: CounterSelector) -> list[tuple[str, str]]:
    """(key, problem) where no series fits what the selectors must pick apart."""
    if counted.metric != total.metric:
        return [(key, f"'{key}' selects no series: its matchers contradict each other or no value passes them")
                for key, selector in ((form, counted), ("total", total)) if example_labels([selector]) is None]
    if example_labels([counted, total]) is None:
        return [(form, f"'{form}' and 'total' select no series in common (both {total.metric}): 'total' must count "
                       f"every event, the {'bad' if form == 'errors' else 'good'} ones too")]
    if example_labels([total], counted) is None:
        return [(form, f"'{form}' selects every series 'total' selects (both {total.metric}): add the matcher that "
                       f"tells the {'bad' if form == 'errors' else 'good'} events apart, e.g. outcome=\"failed\"")]
    return []


def retention_covers_slo_windows(spec: Spec) -> list[Issue]:
    """Each SLO's window SLI and error budget read the whole window back: Prometheus must keep it."""
    retention = spec.prometheus.retention
    for index, service in enumerate(spec.services):
        for position, slo in enumerate(service.slos):
            if slo.window > retention:
                return [(("prometheus", "retention"),
                         f"{retention} is shorter than the {slo.window} window of SLO '{slo.name}' of "
                         f"services[{index}] ({service.name}): its SLI and error budget would read only {retention}; "
                         f"set retention to at least {slo.window} (services[{index}].slos[{position}].window)")]
    return []


def prometheus_timing(spec: Spec) -> list[Issue]:
    settings = spec.prometheus
    if settings.scrape_timeout > settings.scrape_interval:
        return [
            (
                ("prometheus", "scrape_timeout"),
                f"scrape_timeout ({settings.scrape_timeout}) must not exceed scrape_interval ({settings.scrape_interval})",
            )
        ]
    return []


def target_versions(spec: Spec) -> list[Issue]:
    issues: list[Issue] = []
    versions = spec.prometheus.target_versions
    for tool, floor in (("prometheus", PROMETHEUS_FLOOR), ("alertmanager", ALERTMANAGER_FLOOR)):
        if getattr(versions, tool) < floor:
            issues.append(
                (
                    ("prometheus", "target_versions", tool),
                    f"{tool} {getattr(versions, tool)} is older than the supported floor {floor}",
                )
            )
    return issues


def runbook_pattern(spec: Spec) -> list[Issue]:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(spec.runbook_url) if name is not None}
    except ValueError as error:
        return [(("runbook_url",), f"malformed pattern: {error}")]
    unknown = sorted(fields - RUNBOOK_PLACEHOLDERS)
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in sorted(RUNBOOK_PLACEHOLDERS))
        return [(("runbook_url",), f"unknown placeholder {{{unknown[0]}}}; allowed: {allowed}")]
    if not re.match(r"^https?://", spec.runbook_url):
        return [(("runbook_url",), "must be an http(s) URL pattern")]
    return []


def alert_overrides(spec: Spec) -> list[Issue]:
    """alerts: names generated alerts, adds labels they do not carry, fills placeholders they have."""
    if not spec.alerts and not spec.alert_labels:
        return []
    # Imported here: the alert names are the alerting layer's, read by this one check only.
    from obstack.alerts.overrides import override_problems
    from obstack.alerts.rule_files import generated_rule_files

    return override_problems(spec, [rule for f in generated_rule_files(spec) for rule in f.alert_rules])


def user_rule_file_names(spec: Spec) -> list[Issue]:
    """Your own rule and test files are copied into prometheus/rules and prometheus/tests under their
    file names: those must be what Prometheus and the promtool validator pick up, and clash with nothing."""
    # Imported here: the generated files' names are the alerting layer's.
    from obstack.alerts.renamed_files import PER_SERVICE_PREFIXES
    from obstack.alerts.rule_files import RULE_FILE_BUILDERS

    issues: list[Issue] = []
    for key, suffix in (("extra_rule_files", ".yml"), ("extra_rule_tests", ".test.yml")):
        seen: set[str] = set()
        for index, path in enumerate(getattr(spec.prometheus, key)):
            name = PurePosixPath(path).name
            where = ("prometheus", key, index)
            if not name.endswith(suffix) or (suffix == ".yml" and name.endswith(".test.yml")):
                issues.append((where, f"'{name}' must be named *{suffix}: it is copied under its file name, and "
                                      f"{'prometheus.yml loads rules/*.yml' if suffix == '.yml' else 'validate runs tests/*.test.yml'}"))
            elif name.split(".")[0] in RULE_FILE_BUILDERS:
                issues.append((where, f"'{name}' has the name of a generated file ({name.split('.')[0]}.yml and its "
                                      "tests); rename it"))
            elif prefix := next((p for p in PER_SERVICE_PREFIXES if name.startswith(p)), None):
                issues.append((where, f"'{name}' starts with '{prefix}', as the generated per-service rule files "
                                      f"({prefix}<service>.yml) do; rename it"))
            elif name in seen:
                issues.append((where, f"another file is named '{name}' already: files are copied under their name"))
            seen.add(name)
    return issues


def compose_apps_run_in_compose(spec: Spec) -> list[Issue]:
    """A compose.apps entry runs its service in compose: the service must not say it runs elsewhere.
    (An entry naming no service is the compose lint's: generation stays total.)"""
    issues: list[Issue] = []
    indices = {service.name: index for index, service in enumerate(spec.services)}
    for index, app in enumerate(spec.compose.apps):
        service = indices.get(app.service)
        if service is not None and spec.services[service].runs_on != "compose":
            runs_on = spec.services[service].runs_on
            issues.append((("compose", "apps", index, "service"),
                           f"'{app.service}' runs on {runs_on} (services[{service}].runs_on), so compose does not "
                           "run it; remove this entry, or set its runs_on to compose"))
    return issues


def _choices(names: list[str]) -> str:
    return f" (known: {', '.join(names)})" if names else " (none declared)"


CHECKS: tuple[Callable[[Spec], list[Issue]], ...] = (
    unique_names,
    queue_datastores,
    dependencies,
    notification_references,
    latency_buckets,
    latency_thresholds_below_top_bucket,
    aggregated_start_time,
    alertable_slos,
    event_slo_counters,
    retention_covers_slo_windows,
    prometheus_timing,
    target_versions,
    runbook_pattern,
    user_rule_file_names,
    compose_apps_run_in_compose,
)


def cross_check(spec: Spec) -> list[Issue]:
    issues = [issue for check in CHECKS for issue in check(spec)]
    # The overrides are checked against the generated rules, which only a coherent spec yields.
    return issues or alert_overrides(spec)
