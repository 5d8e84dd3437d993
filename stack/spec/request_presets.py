"""What each common HTTP instrumentation library really emits by default, as request_metrics presets.

A preset fills every ``services[].request_metrics`` key the spec leaves out; any key can still be
set by hand. The values come from each library's source at the version named here, and the test
suite checks the generated rules against metrics captured from a real process of that version
(``tests/fixtures/clients/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PresetName = Literal["prom-client", "express-prom-bundle", "fastapi-instrumentator", "opentelemetry"]
StatusFormat = Literal["code", "class"]

# How each status format spells a server error, a success and a client error in its label:
# the error regex a preset implies and the values generated test inputs carry.
STATUS_EXAMPLES: dict[str, dict[str, str]] = {
    "code": {"error": "500", "ok": "200", "client_error": "404"},
    "class": {"error": "5xx", "ok": "2xx", "client_error": "4xx"},
}
ERROR_STATUS_REGEX: dict[str, str] = {"code": "5..", "class": "5xx"}


@dataclass(frozen=True)
class Preset:
    """One library's request metrics (None: the library has no such label by default)."""

    name: PresetName
    library: str  # the package, with the version the values were read from and captured with
    histogram: str  # request duration histogram, in seconds
    requests: str | None  # a separate request counter carrying the status label; None: the histogram's _count
    method_label: str | None
    route_label: str | None
    status_label: str
    status_format: StatusFormat
    buckets: tuple[float, ...]
    notes: str  # what a user must know or switch on, for docs/instrumenting.md

    def spec_defaults(self) -> dict[str, Any]:
        """The request_metrics keys this preset fills in."""
        return {
            "histogram": self.histogram,
            "requests": self.requests,
            "method_label": self.method_label,
            "route_label": self.route_label,
            "status_label": self.status_label,
            "status_format": self.status_format,
            "error_status_regex": ERROR_STATUS_REGEX[self.status_format],
            "buckets": self.buckets,
        }


PROM_CLIENT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# OpenTelemetry HTTP semantic conventions' advisory boundaries for http.server.request.duration.
OTEL_HTTP_DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="prom-client",
            library="prom-client 15.1.3 (Node), a hand-written Histogram as in its README",
            histogram="http_request_duration_seconds", requests=None,
            method_label="method", route_label="route", status_label="status_code", status_format="code",
            buckets=PROM_CLIENT_BUCKETS,
            notes="Observe every request on the response's 'finish' event with labels method, route (the matched "
                  "route pattern, not the path) and status_code; call collectDefaultMetrics() for the process_* "
                  "metrics the restart and memory alerts read.",
        ),
        Preset(
            name="express-prom-bundle",
            library="express-prom-bundle 8.0.0 (Node, prom-client 15.1.3)",
            histogram="http_request_duration_seconds", requests=None,
            method_label=None, route_label=None, status_label="status_code", status_format="code",
            buckets=(0.003, 0.03, 0.1, 0.3, 1.5, 10),
            notes="By default only status_code is a label: set includeMethod: true and declare method_label: method, "
                  "includePath: true and declare route_label: path for per-route panels. Default process metrics "
                  "are off: pass promClient: {collectDefaultMetrics: {}} for the restart and memory alerts. "
                  "includeUp (on by default) exports a gauge named 'up', which clashes with Prometheus' own "
                  "'up': set includeUp: false.",
        ),
        Preset(
            name="fastapi-instrumentator",
            library="prometheus-fastapi-instrumentator 8.1.0 (Python, prometheus_client 0.26.0)",
            histogram="http_request_duration_seconds", requests="http_requests_total",
            method_label="method", route_label="handler", status_label="status", status_format="class",
            buckets=(0.1, 0.5, 1),
            notes="Errors come from http_requests_total, whose status label holds the class ('5xx'); the latency "
                  "histogram has no status label. Its buckets are 0.1, 0.5 and 1 s: a latency threshold must be "
                  "one of them, or pass latency_lowr_buckets to instrument() and declare them here.",
        ),
        Preset(
            name="opentelemetry",
            library="OpenTelemetry JS: @opentelemetry/instrumentation-http 0.223.0 and instrumentation-express 0.71.1, "
                    "exported by @opentelemetry/exporter-prometheus 0.223.0 (sdk-metrics 2.12.1)",
            histogram="http_server_request_duration", requests=None,
            method_label="http_request_method", route_label="http_route", status_label="http_response_status_code",
            status_format="code", buckets=OTEL_HTTP_DURATION_BUCKETS,
            notes="The stable HTTP semantic conventions' http.server.request.duration (seconds), which the JS "
                  "Prometheus exporter names http_server_request_duration (no unit suffix; the Collector's "
                  "exporter adds _seconds: set histogram). http_route is only set when a context manager is "
                  "registered (NodeSDK does it; a bare MeterProvider does not) and the framework's "
                  "instrumentation is on. Older instrumentation-http releases emit the old http.server.duration "
                  "(milliseconds) unless OTEL_SEMCONV_STABILITY_OPT_IN=http.",
        ),
    )
}


def fill_from_preset(data: Any) -> Any:
    """``data`` (a request_metrics mapping) with every key it leaves out taken from its preset;
    an error regex follows a hand-set status_format when the regex itself is not set."""
    if not isinstance(data, dict):
        return data
    preset = PRESETS.get(data.get("preset", "prom-client"))
    if preset is None:  # the Literal on the field reports it
        return data
    defaults = preset.spec_defaults()
    status_format = data.get("status_format")
    if status_format in ERROR_STATUS_REGEX:
        defaults["error_status_regex"] = ERROR_STATUS_REGEX[status_format]
    return {**defaults, **data}


def preset_table() -> str:
    """The presets as a markdown table (docs/instrumenting.md holds it; a test keeps it current)."""
    rows = ["| preset | captured from | request series | method, route, status labels | status | buckets (s) |",
            "|---|---|---|---|---|---|"]
    for preset in PRESETS.values():
        series = f"`{preset.histogram}` histogram" + (f", errors from `{preset.requests}`" if preset.requests else "")
        labels = ", ".join(f"`{label}`" if label else "none" for label in
                           (preset.method_label, preset.route_label, preset.status_label))
        status = f"{preset.status_format} (`{STATUS_EXAMPLES[preset.status_format]['error']}`)"
        buckets = ", ".join(f"{b:g}" for b in preset.buckets)
        rows.append(f"| `{preset.name}` | {preset.library} | {series} | {labels} | {status} | {buckets} |")
    return "\n".join(rows)
