"""Our own structural check of PrometheusRule and ServiceMonitor objects, and of the shards obstack sets
on your Prometheus object (prometheus-operator v0.93 shapes).

The operator's CRDs cannot be fetched at run time and kubernetes-validate only warns on custom
resources, so the product carries the shape of the fields it emits, transcribed from the CRDs.
It is stricter than the CRDs on one point on purpose: unknown keys are errors, because the API
server silently prunes fields its schema does not know (a typo would vanish, not fail).
"""

from __future__ import annotations

from typing import Any

import jsonschema

# The operator's duration pattern (Prometheus durations, as in the CRDs).
DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_ACTIONS = ["replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
            "keepequal", "dropequal"]
_ACTIONS_ANY_CASE = [spelling for action in _ACTIONS for spelling in (action, action[0].upper() + action[1:])]


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        shape["required"] = required
    return shape


_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}

_RULE = _closed({
    "alert": {"type": "string", "minLength": 1},
    "record": {"type": "string", "minLength": 1},
    "expr": {"type": ["string", "integer"]},
    "for": DURATION,
    "keep_firing_for": DURATION,
    "labels": _STRING_MAP,
    "annotations": _STRING_MAP,
}, ["expr"])
# Exactly one of alert and record, as Prometheus requires.
_RULE["oneOf"] = [{"required": ["alert"], "not": {"required": ["record"]}},
                  {"required": ["record"], "not": {"required": ["alert"]}}]

PROMETHEUS_RULE = _closed({
    "apiVersion": {"const": "monitoring.coreos.com/v1"},
    "kind": {"const": "PrometheusRule"},
    "metadata": _METADATA,
    "spec": _closed({"groups": {"type": "array", "items": _closed({
        "name": {"type": "string", "minLength": 1},
        "interval": DURATION,
        "labels": _STRING_MAP,
        "limit": {"type": "integer"},
        "query_offset": DURATION,
        "rules": {"type": "array", "items": _RULE},
    }, ["name"])}}),
}, ["apiVersion", "kind", "metadata", "spec"])

_RELABEL = _closed({
    "action": {"enum": _ACTIONS_ANY_CASE},
    "sourceLabels": {"type": "array", "items": {"type": "string"}},
    "separator": {"type": "string"},
    "targetLabel": {"type": "string"},
    "regex": {"type": "string"},
    "modulus": {"type": "integer"},
    "replacement": {"type": "string"},
})

_ENDPOINT = _closed({
    "port": {"type": "string"},
    "targetPort": {"type": ["string", "integer"]},
    "path": {"type": "string"},
    "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
    "interval": DURATION,
    "scrapeTimeout": DURATION,
    "honorLabels": {"type": "boolean"},
    "relabelings": {"type": "array", "items": _RELABEL},
    "metricRelabelings": {"type": "array", "items": _RELABEL},
})

SERVICE_MONITOR = _closed({
    "apiVersion": {"const": "monitoring.coreos.com/v1"},
    "kind": {"const": "ServiceMonitor"},
    "metadata": _METADATA,
    "spec": _closed({
        "jobLabel": {"type": "string"},
        "selector": _closed({"matchLabels": _STRING_MAP, "matchExpressions": {"type": "array"}}),
        "namespaceSelector": _closed({"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}),
        "endpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
    }, ["selector", "endpoints"]),
}, ["apiVersion", "kind", "metadata", "spec"])

# The one field obstack sets on your Prometheus object (server-side apply owns only what is sent):
# name and namespace to find it, spec.shards (the CRD: int32, at least 1 here).
PROMETHEUS_SHARDS = _closed({
    "apiVersion": {"const": "monitoring.coreos.com/v1"},
    "kind": {"const": "Prometheus"},
    "metadata": _closed({"name": _METADATA["properties"]["name"], "namespace": {"type": "string"}}, ["name", "namespace"]),
    "spec": _closed({"shards": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}, ["shards"]),
}, ["apiVersion", "kind", "metadata", "spec"])

SHAPES: dict[str, dict[str, Any]] = {"Prometheus": PROMETHEUS_SHARDS, "PrometheusRule": PROMETHEUS_RULE,
                                     "ServiceMonitor": SERVICE_MONITOR}


def _semantic_problems(document: dict[str, Any]) -> list[str]:
    """What a schema cannot say: the operator refuses duplicate group names within one object."""
    if document.get("kind") != "PrometheusRule":
        return []
    names = [g.get("name") for g in (document.get("spec") or {}).get("groups", []) if isinstance(g, dict)]
    return [f"spec.groups: group name '{n}' appears {names.count(n)} times" for n in sorted(set(names), key=str)
            if names.count(n) > 1]


def operator_object_problems(document: dict[str, Any]) -> list[str]:
    """Problems of one PrometheusRule or ServiceMonitor, each as 'path: message'."""
    shape = SHAPES.get(str(document.get("kind")))
    if shape is None:
        return [f"kind: {document.get('kind')!r} is not a prometheus-operator kind obstack checks"]
    validator = jsonschema.Draft7Validator(shape)
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(part) for part in error.absolute_path) or "(object)"
        # oneOf's own message repeats the whole rule; say what is wrong instead.
        message = "a rule needs exactly one of 'alert' and 'record'" if error.validator == "oneOf" else error.message
        problems.append(f"{path}: {message}")
    return problems + _semantic_problems(document)
