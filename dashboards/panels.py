"""Panel builders shared by every dashboard: targets, panels with threshold steps, variables, layout.

Everything here builds grafanalib objects; ``normalise`` turns their legacy JSON into the
current dashboard model. Thresholds are built from the spec's ``Levels`` so a panel's
colours and lines sit at exactly the numbers the alerts compare against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import grafanalib.core as G

from obstack.dashboards.datasources import (
    DATASOURCE_VARIABLE,
    PROMETHEUS,
    PROMETHEUS_VARIABLE_REF,
    Datasource,
)
from obstack.stack.spec.base import promql_string
from obstack.stack.spec.dashboard_identities import DashboardId
from obstack.stack.spec.thresholds import Levels
from obstack.stack.spec.values import Duration, Ratio

# Grafana's rate window: at least four scrape intervals, and it follows the zoom level.
RATE_INTERVAL = "$__rate_interval"
# The selected time range: a count over it is "in the range shown", whatever the zoom.
RANGE = "$__range"
JOB = 'job=~"$job"'
INSTANCE = 'instance=~"$instance"'
GREEN, ORANGE, RED = "green", "orange", "red"
GRID_WIDTH = 24

Panel = Any  # a grafanalib panel (they share no base class worth naming)


# --------------------------------------------------------------------------- queries


def selector(metric: str, *matchers: str) -> str:
    """``metric{m1, m2}``; matchers are PromQL text such as ``'service="api"'`` or ``JOB``."""
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


quoted = promql_string  # a PromQL string literal (spec names may hold characters PromQL escapes)


def prom(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False) -> G.Target:
    """A Prometheus query through the dashboard's datasource variable."""
    return G.Target(expr=expr, legendFormat=legend, refId=ref, instant=instant,
                    format="table" if table else "time_series", datasource=PROMETHEUS_VARIABLE_REF)


def refs(*targets: G.Target) -> list[G.Target]:
    """Targets with refIds A, B, C... in order (a panel's targets need distinct ids)."""
    for index, target in enumerate(targets):
        target.refId = chr(ord("A") + index)
    return list(targets)


# --------------------------------------------------------------------------- thresholds


def level_value(level: object) -> float:
    """A spec level as the number a panel shows: ratios as fractions, durations in seconds."""
    if isinstance(level, Ratio):
        return float(level.value)
    if isinstance(level, Duration):
        return level.seconds
    if isinstance(level, Decimal):
        return float(level)
    return float(level)  # type: ignore[arg-type]


def steps(base: str, *levels: tuple[float, str]) -> list[G.Threshold]:
    """Threshold steps: ``base`` colour below the first level, then each (value, colour) upwards."""
    ordered = sorted(levels, key=lambda level: level[0])
    return [G.Threshold(base, 0, 0.0)] + [G.Threshold(color, i + 1, float(value)) for i, (value, color) in enumerate(ordered)]


def above_zero(level: object) -> float:
    """Where a level of 0 that fires above is drawn: Grafana colours a value at or above a step, so a
    step at 0 would colour the healthy 0 (no failures, nothing dead-lettered). A count fires from 1;
    any other measure from the smallest number above 0."""
    return 1.0 if isinstance(level, int) else math.nextafter(0.0, math.inf)


def alert_steps(levels: Levels, convert: Callable[[object], float] = level_value) -> list[G.Threshold]:
    """Steps at an alert's warning and critical levels, coloured by which side is worse."""
    def drawn(level: object) -> float | None:
        if level is None:
            return None
        value = convert(level)
        return above_zero(level) if levels.fires_above and value == 0 else value

    warning, critical = drawn(levels.warning), drawn(levels.critical)
    if levels.fires_above:
        marks = [(v, c) for v, c in ((warning, ORANGE), (critical, RED)) if v is not None]
        return steps(GREEN, *marks)
    # Fires below (free disk): red under critical, orange up to warning, green above.
    if critical is None:
        return steps(ORANGE, (warning, GREEN))  # type: ignore[arg-type]
    if warning is None:
        return steps(RED, (critical, GREEN))
    return steps(RED, (critical, ORANGE), (warning, GREEN))


def up_steps() -> list[G.Threshold]:
    """A 0/1 health gauge: anything below 1 (down, failing) is red."""
    return steps(RED, (1, GREEN))


UP_MAPPINGS: list[dict[str, Any]] = [
    {"type": "value", "options": {"0": {"text": "DOWN", "color": RED, "index": 0},
                                  "1": {"text": "UP", "color": GREEN, "index": 1}}},
]


# --------------------------------------------------------------------------- panels


def _grid(w: int, h: int) -> G.GridPos:
    return G.GridPos(h=h, w=w, x=0, y=0)  # x and y are set by ``layout``


def timeseries(title: str, description: str, targets: Sequence[G.Target], unit: str,
               thresholds: list[G.Threshold] | None = None, *, w: int = 12, h: int = 8,
               stacked: bool = False, minimum: float | None = None, maximum: float | None = None) -> G.TimeSeries:
    """A time series; with thresholds, dashed lines at each step (the alert levels)."""
    return G.TimeSeries(
        title=title, description=description, dataSource=PROMETHEUS_VARIABLE_REF, targets=list(targets), unit=unit,
        gridPos=_grid(w, h), thresholds=thresholds or steps(GREEN), thresholdType="absolute",
        thresholdsStyleMode="dashed" if thresholds else "off", fillOpacity=20 if stacked else 10,
        stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none"},
        valueMin=minimum, valueMax=maximum, legendDisplayMode="list", tooltipMode="multi",
    )


def stat(title: str, description: str, targets: Sequence[G.Target], unit: str,
         thresholds: list[G.Threshold] | None = None, *, w: int = 4, h: int = 4,
         mappings: list[dict[str, Any]] | None = None, decimals: int | None = None) -> G.Stat:
    """A single value (last sample) coloured by its thresholds."""
    return G.Stat(
        title=title, description=description, dataSource=PROMETHEUS_VARIABLE_REF, targets=list(targets), format=unit,
        gridPos=_grid(w, h), thresholds=thresholds or steps(GREEN), thresholdType="absolute",
        reduceCalc="lastNotNull", colorMode="background", graphMode="area", mappings=mappings or [], noValue="no data",
        decimals=decimals,
    )


def range_count(title: str, description: str, counter: str, thresholds: list[G.Threshold], *,
                w: int = 4) -> G.Stat:
    """How often a counter grew in the selected time range (whole events), coloured by ``thresholds``."""
    return stat(title, description, [prom(f"sum(increase({counter}[{RANGE}]))", instant=True)], "short",
                thresholds, w=w, decimals=0)


# Numeric cells show the thresholds as their background; label cells (strings) keep the plain cell,
# since Grafana paints a value that is no number in the base step's colour. ("numeric" is Grafana's
# "Numeric Fields" matcher: it takes no options.)
THRESHOLD_CELLS: dict[str, Any] = {
    "matcher": {"id": "numeric"},
    "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}],
}


def table(title: str, description: str, targets: Sequence[G.Target], unit: str,
          thresholds: list[G.Threshold] | None = None, *, w: int = 24, h: int = 8,
          datasource: dict[str, str] = PROMETHEUS_VARIABLE_REF) -> G.Table:
    """A table of instant results (one row per series), numeric cells coloured by thresholds."""
    panel = G.Table(title=title, description=description, dataSource=datasource, targets=list(targets), unit=unit,
                    gridPos=_grid(w, h), thresholds=thresholds or steps(GREEN), thresholdType="absolute",
                    overrides=[THRESHOLD_CELLS] if thresholds else [])
    panel.transformations = [{"id": "merge", "options": {}}] if datasource is PROMETHEUS_VARIABLE_REF else []
    return panel


def logs(title: str, description: str, source: Datasource, query: str, *, w: int = 24, h: int = 10) -> G.Logs:
    """Recent log lines from Elasticsearch matching a Lucene query."""
    target = {"refId": "A", "datasource": source.ref, "query": query, "timeField": "@timestamp",
              "metrics": [{"id": "1", "type": "logs"}], "bucketAggs": []}
    return G.Logs(title=title, description=description, dataSource=source.ref, targets=[target], gridPos=_grid(w, h),
                  showTime=True, wrapLogMessages=True, enableLogDetails=True)


def traces(title: str, description: str, source: Datasource, service: str, *, w: int = 24, h: int = 8) -> G.Table:
    """The service's recent traces from Jaeger (each trace id links to the trace view)."""
    target = {"refId": "A", "datasource": source.ref, "queryType": "search", "service": service, "limit": 20}
    panel = table(title, description, [], "none", w=w, h=h, datasource=source.ref)
    panel.targets = [target]
    return panel


def row(title: str) -> G.RowPanel:
    return G.RowPanel(title=title, gridPos=_grid(GRID_WIDTH, 1))


def layout(panels: Iterable[Panel]) -> list[Panel]:
    """Flow panels left to right, wrapping at 24 columns; a row always starts a new line."""
    placed, x, y, line_height = [], 0, 0, 0
    for panel in panels:
        grid = panel.gridPos
        if isinstance(panel, G.RowPanel) or x + grid.w > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        grid.x, grid.y = x, y
        x, line_height = x + grid.w, max(line_height, grid.h)
        if isinstance(panel, G.RowPanel):
            x, y, line_height = 0, y + grid.h, 0
        placed.append(panel)
    return placed


# --------------------------------------------------------------------------- variables and dashboards


def datasource_variable() -> G.Template:
    """The ``datasource`` variable (label "Data source") every metrics panel reads from."""
    variable = G.Template(name=DATASOURCE_VARIABLE, label="Data source", type="datasource", query="prometheus",
                          hide=0, refresh=1)
    variable._current = {"selected": True, "text": PROMETHEUS.name, "value": PROMETHEUS.uid}
    return variable


def label_variable(name: str, query: str) -> G.Template:
    """A multi-select label variable (``job``, ``instance``...) defaulting to All, matching ``.+``."""
    variable = G.Template(name=name, label=name, query=query, dataSource=PROMETHEUS_VARIABLE_REF, multi=True,
                          includeAll=True, allValue=".+", refresh=2, sort=1, hide=0)
    # refresh 2: re-query when the time range changes, so vanished jobs and instances drop out.
    variable._current = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return variable


def job_instance_variables(metric_selector: str) -> list[G.Template]:
    """``job`` and ``instance`` variables over the series of ``metric_selector`` (instance follows job)."""
    metric, _, rest = metric_selector.partition("{")
    inner = rest.rstrip("}")
    job_scope = f"{metric}{{{inner}}}" if inner else metric
    instance_scope = f"{metric}{{{inner + ', ' if inner else ''}{JOB}}}"
    return [label_variable("job", f"label_values({job_scope}, job)"),
            label_variable("instance", f"label_values({instance_scope}, instance)")]


def link(title: str, ident: DashboardId, tooltip: str) -> G.DashboardLink:
    """A link to a related dashboard, keeping the time range."""
    return G.DashboardLink(title=title, type="link", uri=ident.path(), tooltip=tooltip, icon="dashboard",
                           keepTime=True, includeVars=False)


def external_link(title: str, url: str, tooltip: str) -> G.DashboardLink:
    return G.DashboardLink(title=title, type="link", uri=url, tooltip=tooltip, icon="external link",
                           keepTime=True, includeVars=False, targetBlank=True)


def tagged_links(tag: str) -> G.DashboardLink:
    """A dropdown of every obstack dashboard of the project (they share the tag)."""
    return G.DashboardLink(title="All dashboards", type="dashboards", tags=[tag], asDropdown=True, keepTime=True,
                           includeVars=False, icon="external link", tooltip="Every dashboard obstack generated")


def dashboard(ident: DashboardId, description: str, tags: list[str], variables: list[G.Template],
              panels: Iterable[Panel], links: list[G.DashboardLink]) -> G.Dashboard:
    """A dashboard with the datasource variable first, panels laid out, ids assigned."""
    return G.Dashboard(
        title=ident.title, uid=ident.uid, description=description, tags=tags,
        templating=G.Templating([datasource_variable(), *variables]), panels=layout(panels), links=links,
        time=G.Time("now-6h", "now"), refresh="1m", timezone="browser", graphTooltip=1, editable=True,
    ).auto_panel_ids()
