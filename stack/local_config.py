"""Pure transformations behind `obstack local`: the fast profile and the local rewrites.

Nothing here starts a process or touches the disk; ``stack.local`` does. Two things change for
a local stack:

* ``--fast`` shrinks time so an end-to-end run takes minutes. ``fast_spec`` scales the spec's
  own durations (scrape/evaluation intervals, Alertmanager's timers) and ``fast_rule_file``
  scales what the rule files carry (each rule's ``for:`` and ``keep_firing_for:``, every PromQL
  range window) by the evaluation interval's factor, so every rule keeps its shape, thresholds,
  the ratio between its windows and the number of evaluations in each — only the clock runs
  faster.
* The generated configs name the compose hosts (``alertmanager:9093``, ``obstack-receiver``);
  ``local_prometheus_config`` and ``local_alertmanager_config`` point them at local ports.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from stack.spec.model import EXPORTER_JOB, NODE_JOB, Queue, Spec
from stack.spec.values import Duration

# One minute becomes one second: 15s scrapes would become 250ms, so the floors below apply.
FAST_FACTOR = 60
# Prometheus and the exporter are comfortable at one scrape and one evaluation per second.
MIN_INTERVAL = Duration.parse("1s")
# Two evaluations at 1s: a hold must exceed the evaluation interval to mean "seen twice".
# A hold of one evaluation still means "seen twice" (pending, then firing). It must not be higher:
# causes hold 1m and their symptoms 2m, and the fast profile must keep the cause firing first
# (Alertmanager flushes an alert whose hold has passed at once; the cause must already be there).
MIN_FOR = Duration.parse("1s")
# rate()/delta() need at least two samples in the window; 4 scrapes leave room for jitter.
MIN_RANGE = Duration.parse("4s")
# Alertmanager timers: group_wait 30s -> 500ms; below 100ms batching means nothing.
MIN_TIMER = Duration.parse("100ms")

_RANGE_RE = re.compile(r"\[([0-9smhdwy]+)(?::([0-9smhdwy]*))?\]")


def scale(duration: Duration, factor: int = FAST_FACTOR, floor: Duration = MIN_INTERVAL) -> Duration:
    """``duration / factor``, never below ``floor`` (and never above the original)."""
    scaled = max(duration.milliseconds // factor, floor.milliseconds)
    return Duration(min(scaled, duration.milliseconds) if duration.milliseconds else 0)


def fast_spec(spec: Spec, factor: int = FAST_FACTOR) -> Spec:
    """The spec with the durations the rule files do not carry as ``for:`` or a range divided by
    ``factor`` (floors above): intervals, Alertmanager's timers, the Watchdog's heartbeat and the
    waiting-job age thresholds (a job ages in real time, so a 10m threshold would take 10 real
    minutes). Holds (``down_for``, a queue's ``no_workers_for``...) become ``for:`` and are scaled
    with every other ``for:`` by ``fast_rule_file``, all by one rule, so their order is kept.
    Measurements of the service itself — request latencies, replication lag — stay as they are.
    """
    prom = spec.prometheus
    interval = scale(prom.scrape_interval, factor)
    timeout = min(scale(prom.scrape_timeout, factor), interval, key=lambda d: d.milliseconds)
    prometheus = prom.model_copy(update={
        "scrape_interval": interval, "scrape_timeout": timeout,
        "evaluation_interval": scale(prom.evaluation_interval, factor)})
    notes = spec.notifications
    watchdog = notes.watchdog.model_copy(update={
        "repeat_interval": scale(notes.watchdog.repeat_interval, factor, MIN_INTERVAL)})
    timers = {name: scale(getattr(notes, name), factor, MIN_TIMER)
              for name in ("group_wait", "group_interval", "repeat_interval")}
    # A cause and its symptoms reach Alertmanager within an evaluation or two of each other (their
    # holds collapse onto the same floor here); inhibition only holds a symptom back if its cause is
    # there when the group is first flushed. In production 30s of group_wait cover 15s evaluations.
    evaluation = prometheus.evaluation_interval.milliseconds
    timers["group_wait"] = Duration(max(timers["group_wait"].milliseconds, 2 * evaluation))
    notifications = notes.model_copy(update={**timers, "watchdog": watchdog})

    return spec.model_copy(update={
        "prometheus": prometheus, "notifications": notifications,
        "queues": [_fast_queue(q, factor) for q in spec.queues]})


def _fast_queue(queue: Queue, factor: int) -> Queue:
    """The waiting-job age thresholds: compared in the expression, not a hold, so the rule-file
    rewrite cannot reach them."""
    thresholds = queue.thresholds
    oldest = thresholds.oldest_waiting.model_copy(update={
        level: scale(value, factor, MIN_FOR) for level in ("critical", "warning")
        if (value := getattr(thresholds.oldest_waiting, level)) is not None})
    return queue.model_copy(update={"thresholds": thresholds.model_copy(update={"oldest_waiting": oldest})})


# Prometheus re-sends firing alerts to Alertmanager every resend delay (default 1m): under --fast the
# cause would reach Alertmanager a minute after its symptoms' first send. Flags scaled like the rules.
PROMETHEUS_RESEND_DELAY = Duration.parse("1m")


def prometheus_fast_flags(factor: int = FAST_FACTOR) -> list[str]:
    return [f"--rules.alert.resend-delay={scale(PROMETHEUS_RESEND_DELAY, factor, MIN_INTERVAL)}"]


def fast_expr(expr: str, factor: int = FAST_FACTOR) -> str:
    """Scale every range window (``[5m]``, subquery ``[1h:1m]``) in a PromQL expression."""
    def replace(match: re.Match[str]) -> str:
        window = str(scale(Duration.parse(match.group(1)), factor, MIN_RANGE))
        if match.group(2) is None:
            return f"[{window}]"
        step = match.group(2) and str(scale(Duration.parse(match.group(2)), factor, MIN_INTERVAL))
        return f"[{window}:{step}]"
    return _RANGE_RE.sub(replace, expr)


def hold_factor(spec: Spec, factor: int = FAST_FACTOR) -> int:
    """How many times shorter the fast profile's evaluation interval is (15s -> 1s: 15).

    Holds (``for:``) are divided by this, not by ``factor``: a hold then lasts as many evaluations
    as in production, and so do the margins between holds. A cause holding 1m and its symptom 2m
    are four evaluations apart in production; divided by 60 they would be one, within the jitter
    of two rule groups' evaluation, and the symptom could reach Alertmanager first.
    """
    fast = scale(spec.prometheus.evaluation_interval, factor)
    return max(1, spec.prometheus.evaluation_interval.milliseconds // fast.milliseconds)


def fast_rule_file(text: str, factor: int = FAST_FACTOR) -> str:
    """A generated rule file with every time in it divided by ``factor`` (``hold_factor(spec)``):
    range windows, ``for:``, ``keep_firing_for:`` and group intervals.

    One factor for all: the rules run as in production, each window holding as many evaluations
    and scrapes as there, only on a faster clock. Windows are not divided by the 60 of the
    intervals: a 5m window would hold 5 s of traffic, 25 requests at 5 req/s, and a 10% error
    ratio would read 0 one window in fourteen; at 20 s it holds 100. The traffic guards keep
    their numbers, so they ask for the same request *rate* as in production (the same count
    would need 15 times the traffic)."""
    document = yaml.safe_load(text) or {}
    for group in document.get("groups", []):
        if "interval" in group:
            group["interval"] = str(scale(Duration.parse(group["interval"]), factor))
        for rule in group.get("rules", []):
            rule["expr"] = fast_expr(str(rule["expr"]), factor)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = str(scale(Duration.parse(rule[key]), factor, MIN_FOR))
    header = (f"# obstack local --fast: the generated rules with every range window, for:, keep_firing_for: and "
              f"group interval divided by {factor}.\n"
              "# Do not edit; `obstack local up` rewrites it.\n")
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def local_prometheus_config(config: dict[str, Any], prometheus: str, alertmanager: str,
                            exporter: str, node_exporter: str, node_job: str = NODE_JOB) -> dict[str, Any]:
    """The generated ``prometheus.yml`` scraping and alerting the local processes (node-exporter
    included, so the host alerts and their watchers see a real host). Service jobs keep the spec's
    targets."""
    local = {**config, "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}}
    targets = {"prometheus": prometheus, "alertmanager": alertmanager, EXPORTER_JOB: exporter, node_job: node_exporter}
    jobs = []
    for job in config.get("scrape_configs", []):
        name = job["job_name"]
        if name in targets:
            static = [{**sc, "targets": [targets[name]]} for sc in job.get("static_configs", [])]
            job = {**job, "static_configs": static}
        jobs.append(job)
    local["scrape_configs"] = jobs
    return local


def local_alertmanager_config(config: dict[str, Any], receiver_url: str) -> dict[str, Any]:
    """The generated ``alertmanager.yml`` with every webhook sent to the local receiver.

    The path is kept (``/pager``, ``/chat``) so the receiver's records say which receiver a
    notification was for. Slack, PagerDuty and email receivers are left as generated.
    """
    base = urlsplit(receiver_url)
    receivers = []
    for receiver in config.get("receivers", []):
        hooks = [{**hook, "url": urlunsplit((base.scheme, base.netloc, urlsplit(hook["url"]).path, "", ""))}
                 for hook in receiver.get("webhook_configs", [])]
        receivers.append({**receiver, "webhook_configs": hooks} if hooks else receiver)
    return {**config, "receivers": receivers}
