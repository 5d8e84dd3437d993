"""Queue alerts: backlog, starvation, failures and dead letters (the plan's queue recovery).

Series come from the exporter with ``queue`` and ``backend``; the scrape config adds the
queue's ``datastore`` and ``team``, so a down datastore can silence its queues' alerts.
"""

from __future__ import annotations

from collections.abc import Callable

from obstack.alerts import scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import EXPORTER_JOB_MATCHER, RuleContext, any_of, grouped, hold_labels, matcher, number, threshold_note
from obstack.alerts.rule_model import AlertInstance, AlertRule, RuleGroup, Scenario
from obstack.stack.spec.model import Queue
from obstack.stack.spec.values import Duration


def queue_labels(context: RuleContext, queue: Queue) -> dict[str, str]:
    """Labels of an exporter queue series after the scrape config's relabelling."""
    return context.exporter_series(queue=queue.name, backend=queue.backend, datastore=queue.datastore, team=queue.team)


def _selector(queues: list[Queue]) -> str:
    return f"{EXPORTER_JOB_MATCHER}, {matcher('queue', [q.name for q in queues])}"


def _levels(context: RuleContext, name: str, severity: str, queues: list[Queue], attribute: str,
            build: Callable[[str, str], dict[str, object]]) -> list[AlertRule]:
    """One rule over every queue with a ``thresholds.<attribute>.<severity>`` level; queues with
    different levels are terms of one expression. ``build(selector, threshold)`` gives the fields."""
    entries = [q for q in queues if getattr(getattr(q.thresholds, attribute), severity) is not None]
    if not entries:
        return []
    groups = grouped(entries, lambda q: getattr(getattr(q.thresholds, attribute), severity))
    built = [build(_selector(group), str(threshold)) for threshold, group in groups]
    fields = dict(built[0])
    make_instance = fields.pop("instance_for")
    fields.pop("expr")
    what = str(fields.pop("what"))
    return [AlertRule(
        name=name, severity=severity, subject="queue", runbook_url=context.runbook(name),  # type: ignore[arg-type]
        dashboard_url=None, expr=any_of([str(b["expr"]) for b in built]),
        description=go_template(what + threshold_note([t for t, _ in groups]) + ".", str(fields["value_format"])),
        instances=tuple(make_instance(q, getattr(getattr(q.thresholds, attribute), severity)) for q in entries),  # type: ignore[operator]
        **fields,  # type: ignore[arg-type]
    )]


def backlog_rules(context: RuleContext) -> list[AlertRule]:
    queues = list(context.spec.queues)

    def instance(queue: Queue, threshold: int) -> AlertInstance:
        return AlertInstance(
            queue_labels(context, queue), threshold, True,
            lambda level: scenarios.constant("obstack_queue_backlog_jobs", queue_labels(context, queue), round(level)),
            threshold * 2 + 1, int(threshold * 0.9),
        )

    def build(critical: bool) -> Callable[[str, str], dict[str, object]]:
        hold = context.timing.backlog_critical_hold if critical else context.timing.backlog_warning_hold
        return lambda selector, threshold: dict(
            expr=f"obstack_queue_backlog_jobs{{{selector}}} > {threshold}",
            for_=hold.duration, for_reason=hold.reason,
            summary="A queue's backlog is too large." if critical else "A queue is getting deep.",
            what="{queue} ({backend}) has {value} jobs waiting",
            value_format="number", family="backlog", instance_for=instance,
            meaning="More jobs than the threshold are ready to run and not started (every waiting state, prioritized "
                    "included): workers are too few, stuck or paused.",
            first_checks=("Are workers running and connected? (obstack_queue_workers, obstack_queue_paused)",
                          "Is a job type failing and retrying in a loop?",
                          "Was a large batch enqueued on purpose? Then scale workers or wait it out."),
        )

    return (_levels(context, "QueueBacklogHigh", "critical", queues, "backlog", build(True))
            + _levels(context, "QueueDepthHigh", "warning", queues, "backlog", build(False)))


# Celery messages carry no enqueue time, so the exporter cannot report their age.
BACKENDS_WITHOUT_JOB_AGE = frozenset({"celery"})


def _with_job_age(context: RuleContext) -> list[Queue]:
    return [q for q in context.spec.queues if q.backend not in BACKENDS_WITHOUT_JOB_AGE]


def oldest_job_rules(context: RuleContext) -> list[AlertRule]:
    rules = []
    for severity in ("critical", "warning"):
        def instance(queue: Queue, threshold: Duration) -> AlertInstance:
            return AlertInstance(
                queue_labels(context, queue), threshold.seconds, True,
                lambda level: scenarios.constant("obstack_queue_oldest_job_age_seconds", queue_labels(context, queue), level),
                threshold.seconds * 2, threshold.seconds * 0.9,
            )

        rules += _levels(context, "QueueOldestJobTooOld", severity, _with_job_age(context), "oldest_waiting",
                         lambda selector, threshold: dict(
                             expr=f"obstack_queue_oldest_job_age_seconds{{{selector}}} > "
                                  f"{number(Duration.parse(threshold).seconds)}",
                             for_=context.timing.oldest_job_hold.duration,
                             for_reason=context.timing.oldest_job_hold.reason,
                             summary="A queue's oldest waiting job is too old.",
                             what="The oldest job waiting in {queue} ({backend}) was enqueued {value} ago",
                             value_format="duration", family="oldest-job", instance_for=instance,
                             meaning="A job has waited longer than the threshold: the queue is stalled or starved "
                                     "even if its backlog is small.",
                             first_checks=("Are workers consuming this queue at all, or only others?",
                                           "Is the queue paused, or are jobs blocked by a rate limit or a lock?"),
                         ))
    return rules


def _growth_rules(context: RuleContext, name: str, attribute: str, metric_selector: Callable[[str], str],
                  metric: str, extra: dict[str, str], summary: str, what: str, meaning: str,
                  checks: tuple[str, ...], queues: list[Queue]) -> list[AlertRule]:
    return [rule for severity in ("critical", "warning")
            for rule in _growth_rules_of(context, severity, name, attribute, metric_selector, metric, extra, summary,
                                         what, meaning, checks, queues)]


def _growth_rules_of(context: RuleContext, severity: str, name: str, attribute: str,
                     metric_selector: Callable[[str], str], metric: str, extra: dict[str, str], summary: str,
                     what: str, meaning: str, checks: tuple[str, ...], queues: list[Queue]) -> list[AlertRule]:
    window = context.timing.growth_window.duration

    def instance(queue: Queue, threshold: int) -> AlertInstance:
        labels = {**queue_labels(context, queue), **extra}
        # Twice the threshold: a threshold moved up by mistake (x2.5) no longer fires on it.
        return AlertInstance(labels, threshold, True, lambda level: _ramp(metric, labels, level, context),
                             max(threshold * 2, 1), threshold * 0.9,
                             onset=lambda level: scenarios.jump(metric, labels, level, window,
                                                                context.scrape_interval))

    return _levels(context, name, severity, queues, attribute, lambda selector, threshold: dict(
        expr=f"delta({metric_selector(selector)}[{window}]) > {threshold}",
        for_=context.timing.growth_hold.duration, for_reason=context.timing.growth_hold.reason, summary=summary,
        what="{queue} ({backend}) " + what + f" in the last {window}",
        value_format="number", family=attribute, instance_for=instance, meaning=meaning, first_checks=checks,
        symptom=True,
    ))


def _ramp(metric: str, labels: dict[str, str], level: float, context: RuleContext) -> Scenario:
    return scenarios.ramp(metric, labels, level, context.timing.growth_window.duration, context.scrape_interval)


def failure_rules(context: RuleContext) -> list[AlertRule]:
    queues = list(context.spec.queues)
    rules = _growth_rules(
        context, "QueueFailedJobsGrowing", "failed_jobs", lambda s: f'obstack_queue_jobs{{{s}, state="failed"}}',
        "obstack_queue_jobs", {"state": "failed"}, "Jobs of a queue keep failing.", "gained {value} failed jobs",
        "Jobs fail faster than the threshold: a bug, a bad payload or a failing dependency.",
        ("What do the failed jobs' error messages say?", "Did a deploy change the job handler or its payload?"),
        queues,
    )
    with_dead_letter = [q for q in queues if q.dead_letter]
    rules += _growth_rules(
        context, "QueueDeadLetterGrowing", "dead_letter_jobs", lambda s: f"obstack_queue_dead_letter_jobs{{{s}}}",
        "obstack_queue_dead_letter_jobs", {}, "Jobs are landing in a dead-letter queue.",
        "dead-letter queue gained {value} jobs",
        "Jobs exhausted their retries and were moved to the dead-letter queue: they will not run again "
        "without a human (the plan's queue recovery).",
        ("Inspect the dead-lettered jobs and their last error.",
         "Fix the cause, then replay them from the dead-letter queue."),
        with_dead_letter,
    )
    return rules


# Backends whose broker says how many workers consume a queue (the exporter emits obstack_queue_workers).
BACKENDS_WITH_WORKERS = frozenset({"bullmq", "rq"})


def probe_rules(context: RuleContext) -> list[AlertRule]:
    """QueueProbeFailing: the exporter is up but cannot read a queue, so its other alerts are blind."""
    queues = list(context.spec.queues)
    if not queues:
        return []

    def instance(queue: Queue) -> AlertInstance:
        labels = queue_labels(context, queue)
        failure = context.exporter_series(kind="queue", target=queue.name, team=queue.team)
        return AlertInstance(labels, scenarios.DOWN, False,
                             lambda level: scenarios.failed_probe("obstack_queue_up", labels, failure, level), 0, 1)

    return [AlertRule(
        name="QueueProbeFailing", expr=f"obstack_queue_up{{{_selector(queues)}}} == 0",
        for_=context.timing.queue_probe_hold.duration, for_reason=context.timing.queue_probe_hold.reason, severity="critical", subject="queue", value_format="none",
        summary="The exporter cannot read a queue: its backlog, age and failure alerts are blind.",
        description=go_template("The exporter cannot read {queue} ({backend}) in {datastore}: {probe_reason}.",
                                "none", probe=("queue", "queue")),
        meaning="The queue's probe fails while the exporter runs: a wrong prefix or schema, missing permissions, "
                "or a datastore that answers too slowly. No other alert of the queue can fire meanwhile. A down "
                "datastore explains it and silences it.",
        runbook_url=context.runbook("QueueProbeFailing"), dashboard_url=None, family=None,
        first_checks=("The reason (timeout, refused, auth, protocol, config) is in the description and in "
                      "obstack_probe_failure{kind=\"queue\"}.",
                      "Do the queue's prefix (BullMQ, Celery) or schema (pg-boss) in the spec match the app's?",
                      "Can the exporter's user read the keys or tables (docs/exporter-permissions.md)?"),
        instances=tuple(instance(q) for q in queues),
    )]


def _conjunction(queues: list[Queue], gauge: str, condition: str) -> str:
    selector = _selector(queues)
    return (f"obstack_queue_backlog_jobs{{{selector}}} > 0\n"
            f"and on (job, instance, queue)\nobstack_queue_{gauge}{{{selector}}} {condition}")


def _stalled_instance(context: RuleContext, queue: Queue, gauge: str, threshold: float,
                      fires_above: bool) -> AlertInstance:
    """Backlog 25 with the gauge (workers: fires below 1; paused: fires above 0.5) at the level; the
    alert's value is the backlog."""
    labels = queue_labels(context, queue)

    def build(level: float) -> Scenario:
        series = (scenarios.constant("obstack_queue_backlog_jobs", labels, 25).series
                  + scenarios.constant(f"obstack_queue_{gauge}", labels, level).series)
        return Scenario(series, 25.0, Duration(0), measure=level)
    return AlertInstance(labels, threshold, fires_above, build, 1 if fires_above else 0, 0 if fires_above else 1)


def stalled_rules(context: RuleContext) -> list[AlertRule]:
    """A backlog nobody can work: no worker connected, or the queue left paused."""
    rules = []
    with_workers = [q for q in context.spec.queues if q.backend in BACKENDS_WITH_WORKERS]
    for hold, group in grouped(with_workers, lambda q: q.thresholds.no_workers_for):
        rules.append(AlertRule(
            name="QueueNoWorkers", expr=_conjunction(group, "workers", "== 0"), for_=hold,
            for_reason="the queue's thresholds.no_workers_for: workers reconnect within seconds after a deploy; "
                       "minutes without any means nobody will take the jobs",
            severity="critical", subject="queue", value_format="number",
            summary="A queue has jobs waiting and no worker connected.",
            description=go_template("{queue} ({backend}) has {value} jobs waiting and no worker connected.", "number"),
            meaning="Jobs are waiting and no worker is connected to the queue: nothing will run until one is.",
            runbook_url=context.runbook("QueueNoWorkers"), dashboard_url=None, family=None,
            first_checks=("Is the worker deployment running, and does it connect to this queue name and prefix?",
                          "Did workers crash on start (logs), or lose the Redis connection?"),
            static_labels=hold_labels([q.thresholds.no_workers_for for q in with_workers], hold),
            instances=tuple(_stalled_instance(context, q, "workers", 1, False) for q in group),
        ))
    queues = list(context.spec.queues)
    for hold, group in grouped(queues, lambda q: q.thresholds.paused_for):
        rules.append(AlertRule(
            name="QueuePausedWithBacklog", expr=_conjunction(group, "paused", "== 1"), for_=hold,
            for_reason="the queue's thresholds.paused_for: a pause for a deploy or a migration takes minutes; "
                       "one left behind does not end",
            severity="warning", subject="queue", value_format="number",
            summary="A queue is paused with jobs waiting.",
            description=go_template("{queue} ({backend}) is paused with {value} jobs waiting.", "number"),
            meaning="The queue is paused while jobs wait: workers will not take them until someone resumes it.",
            runbook_url=context.runbook("QueuePausedWithBacklog"), dashboard_url=None, family=None,
            first_checks=("Who paused it and why (deploy, migration, incident)? Is that over?",
                          "Resume it (BullMQ: queue.resume(); RQ has no pause; pg-boss: resume the queue)."),
            static_labels=hold_labels([q.thresholds.paused_for for q in queues], hold),
            instances=tuple(_stalled_instance(context, q, "paused", scenarios.DOWN, True) for q in group),
        ))
    return rules


def dead_letter_rules(context: RuleContext) -> list[AlertRule]:
    """QueueDeadLetterNotEmpty: a dead-letter queue that has held jobs for a while, until it is drained
    (the growth alert resolves once the growth stops; this one does not)."""
    queues = [q for q in context.spec.queues if q.dead_letter]
    holds = [q.thresholds.dead_letter_unattended for q in queues]
    rules = []
    for hold, group in grouped(queues, lambda q: q.thresholds.dead_letter_unattended):
        def instance(queue: Queue) -> AlertInstance:
            labels = queue_labels(context, queue)
            return AlertInstance(labels, 0, True, lambda level: scenarios.constant(
                "obstack_queue_dead_letter_jobs", labels, round(level)), 3, 0)

        rules.append(AlertRule(
            name="QueueDeadLetterNotEmpty", expr=f"obstack_queue_dead_letter_jobs{{{_selector(group)}}} > 0",
            for_=hold, for_reason="the queue's thresholds.dead_letter_unattended: time for the job's owner to "
                                  "look before it becomes a ticket; it stays until the queue is drained",
            severity="warning", subject="queue", value_format="number",
            summary="A dead-letter queue holds jobs nobody has handled.",
            description=go_template("The dead-letter queue of {queue} ({backend}) has held jobs for " f"{hold}; "
                                    "{value} are waiting for a human.", "number"),
            meaning="Jobs that exhausted their retries have sat in the dead-letter queue longer than the "
                    "threshold. They never run again by themselves; the alert stays until the queue is drained.",
            runbook_url=context.runbook("QueueDeadLetterNotEmpty"), dashboard_url=None, family=None,
            first_checks=("Inspect the dead-lettered jobs and their last error.",
                          "Fix the cause, then replay or discard them so the queue is empty."),
            static_labels=hold_labels(holds, hold), instances=tuple(instance(q) for q in group),
        ))
    return rules


def queue_rule_groups(context: RuleContext) -> list[RuleGroup]:
    rules = (*probe_rules(context), *backlog_rules(context), *oldest_job_rules(context), *stalled_rules(context),
             *failure_rules(context), *dead_letter_rules(context))
    return [RuleGroup("queue-alerts", tuple(rules))] if rules else []
