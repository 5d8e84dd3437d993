"""The Queues dashboard (the plan's queue monitoring): every queue's jobs, backlog, age, failures,
dead letters, throughput, workers and pause state, each at the queue's own thresholds."""

from __future__ import annotations

import grafanalib.core as G

from obstack.alerts.timing import scaled_timing
from obstack.dashboards.common import datastore_links
from obstack.dashboards.panels import (
    GREEN,
    INSTANCE,
    JOB,
    ORANGE,
    RATE_INTERVAL,
    RED,
    UP_MAPPINGS,
    Panel,
    alert_steps,
    dashboard,
    job_instance_variables,
    prom,
    quoted,
    refs,
    row,
    selector,
    stat,
    steps,
    timeseries,
    up_steps,
)
from obstack.foundation.exporter_metrics import ADDED_JOBS, COMPLETED_JOBS, FAILED_JOBS, QUEUE_JOB_COUNTERS
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import Queue, Spec
from obstack.stack.spec.values import Duration

COUNTER_LEGENDS = {ADDED_JOBS: "added/s", COMPLETED_JOBS: "completed/s", FAILED_JOBS: "failed/s"}
PAUSED_MAPPINGS = [{"type": "value", "options": {"0": {"text": "running", "color": GREEN, "index": 0},
                                                 "1": {"text": "PAUSED", "color": RED, "index": 1}}}]


def _stats(queue: Queue, scope: tuple[str, ...]) -> list[Panel]:
    thresholds = queue.thresholds
    panels = [
        stat("Readable", "Can the exporter read the queue from its backend?",
             [prom(selector("obstack_queue_up", *scope))], "none", up_steps(), mappings=UP_MAPPINGS),
        stat("Backlog", "Jobs ready to run and not started; QueueDepthHigh / QueueBacklogHigh fire above the "
             "thresholds.", [prom(selector("obstack_queue_backlog_jobs", *scope))], "short",
             alert_steps(thresholds.backlog)),
        stat("Oldest waiting job", "How long has the oldest waiting job waited? QueueOldestJobTooOld fires above "
             "the threshold.", [prom(selector("obstack_queue_oldest_job_age_seconds", *scope))], "s",
             alert_steps(thresholds.oldest_waiting)),
        stat("Workers", "Workers connected to the queue (none: nothing consumes it).",
             [prom(selector("obstack_queue_workers", *scope))], "short", steps(RED, (1, GREEN))),
        stat("Paused", "Is the queue paused (jobs wait until someone resumes it)?",
             [prom(selector("obstack_queue_paused", *scope))], "none", steps(GREEN, (0.5, RED)),
             mappings=PAUSED_MAPPINGS),
    ]
    if queue.dead_letter:
        panels.append(stat("Dead-letter jobs", f"Jobs waiting in {queue.dead_letter} for a human; "
                           f"QueueDeadLetterNotEmpty fires once any have waited {thresholds.dead_letter_unattended}.",
                           [prom(selector("obstack_queue_dead_letter_jobs", *scope))], "short",
                           steps(GREEN, (1, ORANGE))))
    return panels


def _throughput(queue: Queue, scope: tuple[str, ...]) -> Panel:
    """Jobs per second: rate() of the broker's own job counters where it keeps them, else the growth
    of the completed set, which reads 0 once the backend trims finished jobs (docs/exporters.md)."""
    completed_set = selector("obstack_queue_jobs", *scope, 'state="completed"')
    growth = f"clamp_min(deriv({completed_set}[{RATE_INTERVAL}]), 0)"
    counters = QUEUE_JOB_COUNTERS.get(queue.backend, ())
    if not counters:
        return timeseries("Throughput", f"Jobs completed per second, from the growth of the completed set: "
                          f"{queue.backend} keeps no job counter, so this under-counts (down to 0) once finished "
                          "jobs are removed.", [prom(growth, "completed/s")], "cps", w=8, minimum=0)
    rates = {name: f"rate({selector(name, *scope)}[{RATE_INTERVAL}])" for name in counters}
    targets = [prom(rate, COUNTER_LEGENDS[name]) for name, rate in rates.items()]
    if COMPLETED_JOBS in rates:
        # Without the counter (a BullMQ Worker without the metrics option) the set's growth stands in, named so.
        targets.append(prom(f"{growth} unless ignoring (state) {rates[COMPLETED_JOBS]}",
                            "completed/s (growth of the completed set: no completion counter)"))
    return timeseries("Throughput", "Jobs added, completed and failed per second, from the broker's own job "
                      "counters (true also when finished jobs are removed). BullMQ counts completed and failed jobs "
                      "only for Workers with the metrics option (e.g. metrics: {maxDataPoints: 60}); without it "
                      "the completed line is the growth of the completed set, which reads 0 once removeOnComplete "
                      "trims it, and its legend says so.", refs(*targets), "cps", w=8, minimum=0)


def _graphs(queue: Queue, scope: tuple[str, ...], growth: Duration) -> list[Panel]:
    """The queue's graphs; ``growth``: the window its failure and dead-letter alerts count over."""
    thresholds = queue.thresholds
    jobs = "obstack_queue_jobs"
    failed = selector(jobs, *scope, 'state="failed"')
    panels = [
        timeseries("Jobs by state", "Where are the queue's jobs (waiting, active, delayed, failed, completed...)?",
                   [prom(f"sum by (state) ({selector(jobs, *scope)})", "{{state}}")], "short", w=8, minimum=0),
        timeseries("Backlog", "Jobs ready to run and not started; dashed: QueueDepthHigh (warning) and "
                   "QueueBacklogHigh (critical).", [prom(selector("obstack_queue_backlog_jobs", *scope), "backlog")],
                   "short", alert_steps(thresholds.backlog), w=8, minimum=0),
        timeseries("Oldest waiting job", "Age of the oldest waiting job; dashed: the QueueOldestJobTooOld "
                   "threshold.", [prom(selector("obstack_queue_oldest_job_age_seconds", *scope), "age")], "s",
                   alert_steps(thresholds.oldest_waiting), w=8, minimum=0),
        timeseries(f"Failed jobs gained ({growth})", f"New failures over {growth}, as "
                   "QueueFailedJobsGrowing counts them; dashed: its threshold.",
                   [prom(f"delta({failed}[{growth}])", "failed")],
                   "short", alert_steps(thresholds.failed_jobs), w=8),
        _throughput(queue, scope),
        timeseries("Workers", "Workers connected over time (a drop to 0 stalls the queue).",
                   [prom(selector("obstack_queue_workers", *scope), "workers")], "short", w=8, minimum=0),
    ]
    if queue.dead_letter:
        panels.append(timeseries(
            f"Dead letters gained ({growth})", f"Jobs newly moved to {queue.dead_letter} over {growth}, "
            "as QueueDeadLetterGrowing counts them; dashed: its threshold.",
            [prom(f"delta({selector('obstack_queue_dead_letter_jobs', *scope)}[{growth}])", "dead letters")],
            "short", alert_steps(thresholds.dead_letter_jobs), w=24))
    return panels


def queues_dashboard(spec: Spec) -> G.Dashboard | None:
    if not spec.queues:
        return None
    panels: list[Panel] = [
        row("All queues"),
        timeseries("Backlog per queue", "Which queue is falling behind? (Each queue's thresholds are on its own "
                   "row.)", [prom(selector("obstack_queue_backlog_jobs", JOB, INSTANCE), "{{queue}}")], "short",
                   w=24, minimum=0),
    ]
    growth = scaled_timing(spec.time_scale).growth_window.duration
    for queue in spec.queues:
        scope = (JOB, INSTANCE, f"queue={quoted(queue.name)}")
        title = f"{queue.name} ({queue.backend} on {queue.datastore}, team {queue.team})"
        panels += [row(title), *_stats(queue, scope), *_graphs(queue, scope, growth)]
    return dashboard(ids.queues_dashboard(spec), "Every job queue: jobs by state, backlog and age against their "
                     "thresholds, failures, dead letters, throughput, workers and pause state.",
                     [spec.project, "queue"], job_instance_variables("obstack_queue_up"), panels,
                     datastore_links(spec, sorted({q.datastore for q in spec.queues})))
