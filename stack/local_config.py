"""Pure transformations behind `obstack local`: the fast profile and the local rewrites.

Nothing here starts a process or touches the disk; ``stack.local`` does. Two things change for
a local stack:

* ``--fast`` shrinks time so an end-to-end run takes minutes. ``fast_spec`` divides the spec's
  intervals and Alertmanager's timers by ``FAST_FACTOR`` (with floors), and gives the spec a time
  scale, ``hold_factor``: the rules are then generated from the table of holds and windows
  (alerts/timing.py) divided by it, with the holds and windows the spec gives divided alike, so
  every rule keeps its shape, thresholds, the ratio between its windows and the number of
  evaluations in each — only the clock runs faster.
* The generated configs name the compose hosts (``alertmanager:9093``, ``obstack-receiver``);
  ``local_prometheus_config`` and ``local_alertmanager_config`` point them at local ports.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from obstack.alerts.timing import FLOORS, scale
from obstack.stack.spec.model import EXPORTER_JOB, NODE_JOB, Datastore, Queue, Service, Slo, Spec
from obstack.stack.spec.values import Duration

# One minute becomes one second: 15s scrapes would become 250ms, so the floors below apply.
FAST_FACTOR = 60
# Prometheus and the exporter are comfortable at one scrape and one evaluation per second.
MIN_INTERVAL = FLOORS["interval"]
# Alertmanager timers: group_wait 30s -> 500ms; below 100ms batching means nothing.
MIN_TIMER = Duration.parse("100ms")


def hold_factor(spec: Spec, factor: int = FAST_FACTOR) -> int:
    """How many times shorter the fast profile's evaluation interval is (15s -> 1s: 15): the time
    scale the rules are generated with.

    Holds (``for:``) and windows are divided by this, not by ``factor``: a hold then lasts as many
    evaluations as in production, and so do the margins between holds. A cause holding 1m and its
    symptom 2m are four evaluations apart in production; divided by 60 they would be one, within
    the jitter of two rule groups' evaluation, and the symptom could reach Alertmanager first.
    Windows are not divided by 60 either: a 5m window would hold 5 s of traffic, 25 requests at
    5 req/s, and a 10% error ratio would read 0 one window in fourteen; at 20 s it holds 100.
    """
    fast = scale(spec.prometheus.evaluation_interval, factor, MIN_INTERVAL)
    return max(1, spec.prometheus.evaluation_interval.milliseconds // fast.milliseconds)


def fast_spec(spec: Spec, factor: int = FAST_FACTOR) -> Spec:
    """The spec on the fast profile's clock.

    Divided by ``factor`` (floors above): intervals, Alertmanager's timers, the Watchdog's
    heartbeat and the waiting-job age thresholds (a job ages in real time, so a 10m threshold
    would take 10 real minutes). Divided by ``hold_factor``, as the table of holds and windows is
    (the spec's time scale): the holds the spec gives (``down_for``, a queue's ``no_workers_for``...)
    and the SLO windows, so every hold keeps its place among the others and every burn rate its
    value. Measurements of the service itself — request latencies, replication lag — stay as they are.
    """
    holds = hold_factor(spec, factor)
    prom = spec.prometheus
    interval = scale(prom.scrape_interval, factor, MIN_INTERVAL)
    timeout = min(scale(prom.scrape_timeout, factor, MIN_INTERVAL), interval, key=lambda d: d.milliseconds)
    prometheus = prom.model_copy(update={
        "scrape_interval": interval, "scrape_timeout": timeout,
        "evaluation_interval": scale(prom.evaluation_interval, factor, MIN_INTERVAL)})
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
        "services": [_fast_service(s, holds) for s in spec.services],
        "datastores": [_fast_down_for(d, holds) for d in spec.datastores],
        "queues": [_fast_queue(q, factor, holds) for q in spec.queues]}).with_time_scale(holds)


def _hold(duration: Duration, holds: int) -> Duration:
    return scale(duration, holds, FLOORS["hold"])


def _fast_down_for(entry: Datastore, holds: int) -> Datastore:
    thresholds = entry.thresholds
    return entry.model_copy(update={"thresholds": thresholds.model_copy(
        update={"down_for": _hold(thresholds.down_for, holds)})})


def _fast_service(service: Service, holds: int) -> Service:
    """The service's down hold and SLO windows on the rules' clock."""
    thresholds = service.thresholds.model_copy(update={"down_for": _hold(service.thresholds.down_for, holds)})
    return service.model_copy(update={"thresholds": thresholds, "slos": [_fast_slo(slo, holds) for slo in service.slos]})


def _fast_slo(slo: Slo, holds: int) -> Slo:
    return slo.model_copy(update={"window": scale(slo.window, holds, FLOORS["window"])})


def _fast_queue(queue: Queue, factor: int, holds: int) -> Queue:
    """The queue's holds on the rules' clock; its waiting-job age thresholds, compared in the
    expression with an age that grows in real time, divided by ``factor``."""
    thresholds = queue.thresholds
    oldest = thresholds.oldest_waiting.model_copy(update={
        level: scale(value, factor, FLOORS["hold"]) for level in ("critical", "warning")
        if (value := getattr(thresholds.oldest_waiting, level)) is not None})
    held = {name: _hold(getattr(thresholds, name), holds)
            for name in ("dead_letter_unattended", "no_workers_for", "paused_for")}
    return queue.model_copy(update={"thresholds": thresholds.model_copy(update={"oldest_waiting": oldest, **held})})


# Prometheus re-sends firing alerts to Alertmanager every resend delay (default 1m): under --fast the
# cause would reach Alertmanager a minute after its symptoms' first send. Divided like the intervals.
PROMETHEUS_RESEND_DELAY = Duration.parse("1m")


def prometheus_fast_flags(factor: int = FAST_FACTOR) -> list[str]:
    return [f"--rules.alert.resend-delay={scale(PROMETHEUS_RESEND_DELAY, factor, MIN_INTERVAL)}"]


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
