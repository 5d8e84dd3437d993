"""Turn grafanalib 0.7.1's legacy dashboard JSON into the current dashboard model.

grafanalib emits schemaVersion 12, datasources as bare strings, a base threshold of the
string ``"null"``, legacy top-level and panel keys, and nulls where the model wants the key
absent. Grafana migrates such JSON on load, but provisioned files are compared, diffed and
linted as written, so we write the current model: schemaVersion 39, datasource ``{type, uid}``,
only the keys the model defines, every panel's ``pluginVersion`` (the Grafana the stack runs) and
the plugin options Grafana would fill in on load.
"""

from __future__ import annotations

from typing import Any

from obstack.compose.images import IMAGES
from obstack.dashboards.datasources import PROMETHEUS, PROMETHEUS_VARIABLE_REF

SCHEMA_VERSION = 39  # Grafana 10.4 / 11: the first version with today's panel and variable model
# The Grafana the stack runs (compose/images.py pins it): every panel says it was made for it, so
# Grafana runs none of the migrations meant for older panels (without pluginVersion it takes a stat
# panel for a 6.1 one and pins percentunit stats to min 0 / max 1).
GRAFANA_VERSION = IMAGES["grafana"].tag

# Keys the current model defines, per object (everything else is legacy and dropped).
DASHBOARD_KEYS = frozenset({
    "uid", "title", "description", "tags", "timezone", "editable", "graphTooltip", "time", "timepicker",
    "fiscalYearStartMonth", "liveNow", "weekStart", "refresh", "schemaVersion", "panels", "templating",
    "annotations", "links", "preload",
})
PANEL_KEYS = frozenset({
    "type", "id", "pluginVersion", "targets", "title", "description", "transparent", "datasource", "gridPos",
    "links", "repeat", "repeatDirection", "maxPerRow", "maxDataPoints", "transformations", "interval", "timeFrom",
    "timeShift", "hideTimeOverride", "timeCompare", "libraryPanel", "cacheTimeout", "queryCachingTTL", "options",
    "fieldConfig",
})
ROW_KEYS = frozenset({"type", "collapsed", "title", "datasource", "gridPos", "id", "panels", "repeat"})
VARIABLE_KEYS = frozenset({
    "type", "name", "label", "hide", "skipUrlSync", "description", "query", "datasource", "current", "multi",
    "allowCustomValue", "options", "refresh", "sort", "includeAll", "allValue", "regex", "definition",
})
FIELD_CONFIG_KEYS = frozenset({
    "displayName", "displayNameFromDS", "description", "path", "writeable", "filterable", "unit", "decimals", "min",
    "max", "mappings", "thresholds", "color", "links", "actions", "noValue", "custom", "fieldMinMax",
})
TIMEPICKER_KEYS = frozenset({"hidden", "refresh_intervals", "quick_ranges", "nowDelay"})
# grafanalib's Prometheus target carries Graphite and pre-7 keys Grafana no longer reads.
# (grafanalib also copies a Prometheus ``expr`` into ``query``; other datasources' ``query`` is kept.)
LEGACY_TARGET_KEYS = frozenset({"intervalFactor", "step", "metric", "target"})
# Options (and table field options) Grafana 11.6's panel plugins fill in when a panel lacks them,
# written out so the file is what Grafana shows and the published types (@grafana/schema) hold
# without exceptions. grafanalib's own values win.
PLUGIN_OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "stat": {"percentChangeColorMode": "standard", "showPercentChange": False, "wideLayout": True},
    "timeseries": {"legend": {"showLegend": True}},
    "table": {"cellHeight": "sm", "footer": {"show": False, "countRows": False, "reducer": []}, "frameIndex": 0,
              "showTypeIcons": False},
    "logs": {"showLogContextToggle": False},
}
PLUGIN_FIELD_DEFAULTS: dict[str, dict[str, Any]] = {
    "table": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
}
# Table cells were styled by ``custom.displayMode`` until schemaVersion 38; Grafana converts it to
# ``custom.cellOptions`` only when migrating an older dashboard, so at 39 it is dead weight.
LEGACY_TABLE_FIELD_KEYS = frozenset({"displayMode"})
BUILT_IN_ANNOTATION: dict[str, Any] = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
}


def drop_nulls(value: Any) -> Any:
    """Recursively remove keys whose value is None (the model wants them absent, not null)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def _kept(value: dict[str, Any], keys: frozenset[str] | set[str], rebuilt: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``{k: v for k, v in drop_nulls(value).items() if k in keys}``, without cleaning what is
    dropped, nor the ``rebuilt`` values (the caller replaces them, in the same place): at a
    thousand services the dashboards' panels were cleaned two and three times over."""
    return {k: (v if k in rebuilt else drop_nulls(v)) for k, v in value.items() if k in keys and v is not None}


def datasource_ref(value: Any) -> dict[str, str] | None:
    """A datasource as ``{type, uid}``: legacy strings name the Prometheus variable or a uid."""
    if value is None or isinstance(value, dict):
        return value
    text = str(value)
    if text.startswith("$"):
        return dict(PROMETHEUS_VARIABLE_REF)
    return {"type": PROMETHEUS.type, "uid": text}


def _steps(thresholds: Any) -> dict[str, Any]:
    """Threshold steps as ``{value, color}``; the base step's value is JSON null, never "null"."""
    steps = thresholds.get("steps") if isinstance(thresholds, dict) else None
    result = []
    for step in steps if isinstance(steps, list) else []:
        value = step.get("value")
        result.append({"color": step["color"], "value": None if value in ("null", None) or step.get("index") == 0 else value})
    return {"mode": (thresholds or {}).get("mode") or "absolute", "steps": result}


def with_defaults(defaults: Any, given: Any) -> Any:
    """``given`` over ``defaults``: nested mappings merged key by key, anything else taken from ``given``."""
    if not isinstance(defaults, dict) or not isinstance(given, dict):
        return given
    return {**defaults, **{key: with_defaults(defaults.get(key), value) for key, value in given.items()}}


def _field_config(config: Any, panel_type: str) -> dict[str, Any]:
    config = config if isinstance(config, dict) else {}
    defaults = {k: v for k, v in drop_nulls(config.get("defaults", {})).items() if k in FIELD_CONFIG_KEYS}
    if "thresholds" in config.get("defaults", {}):
        defaults["thresholds"] = _steps(config["defaults"]["thresholds"])
    custom = dict(defaults.pop("custom", None) or {})
    if panel_type == "table":
        custom = {k: v for k, v in custom.items() if k not in LEGACY_TABLE_FIELD_KEYS}
    custom = with_defaults(PLUGIN_FIELD_DEFAULTS.get(panel_type, {}), custom)
    if custom:  # a panel without field options (stat, logs) carries none
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": drop_nulls(config.get("overrides") or [])}


def _target(target: dict[str, Any], panel_datasource: dict[str, str] | None) -> dict[str, Any]:
    result = {k: v for k, v in drop_nulls(target).items() if k not in LEGACY_TARGET_KEYS}
    if "expr" in result and result.get("query") == result["expr"]:
        del result["query"]
    # Each query names its datasource in the current model (mixed panels rely on it).
    result["datasource"] = datasource_ref(target.get("datasource")) or panel_datasource
    return result


def normalise_panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel.get("type") == "row":
        row = _kept(panel, ROW_KEYS, frozenset({"panels", "collapsed"}))
        row["panels"] = [normalise_panel(p) for p in panel.get("panels") or []]
        row["collapsed"] = bool(panel.get("collapsed", False))
        return row
    source = datasource_ref(panel.get("datasource"))
    result = _kept(panel, PANEL_KEYS)
    if source is not None:
        result["datasource"] = source
    # Not run through drop_nulls again: the base threshold step's value must stay null.
    result["fieldConfig"] = _field_config(panel.get("fieldConfig"), str(panel.get("type")))
    result["options"] = with_defaults(PLUGIN_OPTION_DEFAULTS.get(str(panel.get("type")), {}), result.get("options") or {})
    result["pluginVersion"] = GRAFANA_VERSION
    result["targets"] = [_target(t, source) for t in panel.get("targets") or []]
    if not result.get("links"):
        result.pop("links", None)
    # grafanalib pins 100 points per series, far coarser than the panel's width; Grafana's default follows it.
    result.pop("maxDataPoints", None)
    return result


def normalise_variable(variable: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in drop_nulls(variable).items() if k in VARIABLE_KEYS}
    if variable.get("type") == "datasource":
        result.pop("datasource", None)  # a datasource variable lists datasources; it queries none
    elif "datasource" in result:
        result["datasource"] = datasource_ref(result["datasource"])
    current = result.get("current")
    if isinstance(current, dict):
        current = {k: v for k, v in current.items() if k in ("selected", "text", "value")}
        result["current"] = current
        if "text" not in current or "value" not in current:
            del result["current"]  # let Grafana pick the default rather than ship a half option
    if variable.get("type") == "query" and isinstance(result.get("query"), str):
        result["definition"] = result["query"]
    return result


# Set by ``normalise`` itself, whatever grafanalib wrote.
REBUILT_DASHBOARD_KEYS = frozenset({"schemaVersion", "panels", "templating", "annotations", "timepicker", "links"})


def normalise(legacy: dict[str, Any]) -> dict[str, Any]:
    """The current dashboard model of grafanalib's ``to_json_data()`` output (as plain JSON data)."""
    result = _kept(legacy, DASHBOARD_KEYS, REBUILT_DASHBOARD_KEYS)
    result["schemaVersion"] = SCHEMA_VERSION
    result["panels"] = [normalise_panel(p) for p in legacy.get("panels") or []]
    variables = (legacy.get("templating") or {}).get("list") or []
    result["templating"] = {"list": [normalise_variable(v) for v in variables]}
    annotations = (legacy.get("annotations") or {}).get("list") or []
    result["annotations"] = {"list": [BUILT_IN_ANNOTATION, *drop_nulls(annotations)]}
    picker = drop_nulls(legacy.get("timepicker") or {})
    result["timepicker"] = {k: v for k, v in picker.items() if k in TIMEPICKER_KEYS}
    result["links"] = [drop_nulls(link) for link in legacy.get("links") or []]
    return result
