"""Host alerts from node-exporter: memory in use and free disk space."""

from __future__ import annotations

from obstack.alerts import scenarios
from obstack.alerts.annotations import go_template
from obstack.alerts.common import RuleContext, number
from obstack.alerts.rule_model import AlertInstance, AlertRule, InputSeries, RuleGroup, Scenario
from obstack.stack.spec.values import Duration

# Filesystems that are not real disks: their "free space" means nothing.
PSEUDO_FILESYSTEMS = "tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse\\\\..*|autofs|proc|sysfs"


def _node_labels(context: RuleContext, target: str) -> dict[str, str]:
    return {"job": context.spec.host.job, "instance": target, "team": context.spec.host.team}


def _memory_scenario(labels: dict[str, str], level: float) -> Scenario:
    total = 8_000_000_000
    available = round(total * (1 - level))
    series = (scenarios.constant("node_memory_MemTotal_bytes", labels, total).series
              + scenarios.constant("node_memory_MemAvailable_bytes", labels, available).series)
    return Scenario(series, 1 - available / total, Duration(0))


def _disk_labels(context: RuleContext, target: str) -> dict[str, str]:
    return {"device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/", **_node_labels(context, target)}


FIRE_SHARE = 0.85  # of the free-space threshold, the firing level

# Beside the disk under test, two full filesystems node-exporter reports on every host that the
# alert must leave alone: a tmpfs (its "free space" is memory) and a disk mounted read-only (a
# snapshot, an archive: nothing writes to it). A rule that lost its fstype or read-only filter
# fires on them.
FULL_SHARE = 0.01
NOT_WATCHED = ({"device": "tmpfs", "fstype": "tmpfs", "mountpoint": "/run", "readonly": 0},
               {"device": "/dev/vdb1", "fstype": "ext4", "mountpoint": "/mnt/archive", "readonly": 1})


def _filesystem(labels: dict[str, str], available: int, size: int, readonly: int) -> tuple[InputSeries, ...]:
    return (scenarios.constant("node_filesystem_avail_bytes", labels, available).series
            + scenarios.constant("node_filesystem_size_bytes", labels, size).series
            + scenarios.constant("node_filesystem_readonly", labels, readonly).series)


def _disk_scenario(labels: dict[str, str], level: float) -> Scenario:
    size = 100_000_000_000
    available = round(size * level)
    series = _filesystem(labels, available, size, 0)
    for other in NOT_WATCHED:
        series += _filesystem({**labels, "device": str(other["device"]), "fstype": str(other["fstype"]),
                               "mountpoint": str(other["mountpoint"])},
                              round(size * FULL_SHARE), size, int(other["readonly"]))
    return Scenario(series, available / size, Duration(0))


def memory_rules(context: RuleContext) -> list[AlertRule]:
    levels = context.spec.host.thresholds.memory_used
    rules = []
    for name, severity, threshold in [("HighMemoryUsage", "critical", levels.critical),
                                      ("MemoryUsageRising", "warning", levels.warning)]:
        if threshold is None:
            continue
        limit = float(threshold.value)
        rules.append(AlertRule(
            name=name, severity=severity, subject="instance",
            expr=f'1 - (node_memory_MemAvailable_bytes{{job="{context.spec.host.job}"}} / node_memory_MemTotal_bytes{{job="{context.spec.host.job}"}})'
                 f" > {number(threshold.value)}",
            for_=context.timing.host_hold.duration, for_reason=context.timing.host_hold.reason,
            summary="A host is running out of memory.",
            description=go_template("{instance} has {value} of its memory in use " f"(threshold {threshold}).", "percentage"),
            runbook_url=context.runbook(name), dashboard_url=None, value_format="percentage", family="memory",
            meaning=f"More than {threshold} of the host's memory is in use (MemAvailable counts reclaimable cache as free): "
                    "the OOM killer is near.",
            first_checks=("Which processes use the memory? Is one growing without bound (a leak)?",
                          "Did traffic or a batch job raise the working set?"),
            instances=tuple(
                AlertInstance(_node_labels(context, t), limit, True,
                              lambda level, t=t: _memory_scenario(_node_labels(context, t), level),
                              (limit + 1) / 2, limit * 0.9)
                for t in context.spec.host.node_exporter_targets
            ),
        ))
    return rules


def disk_rules(context: RuleContext) -> list[AlertRule]:
    levels = context.spec.host.thresholds.disk_free
    rules = []
    real = f'job="{context.spec.host.job}", fstype!~"{PSEUDO_FILESYSTEMS}"'
    for name, severity, threshold in [("DiskSpaceLow", "critical", levels.critical),
                                      ("DiskSpaceShrinking", "warning", levels.warning)]:
        if threshold is None:
            continue
        limit = float(threshold.value)
        rules.append(AlertRule(
            name=name, severity=severity, subject="instance",
            expr=f"node_filesystem_avail_bytes{{{real}}} / node_filesystem_size_bytes{{{real}}} < {number(threshold.value)}\n"
                 f"and node_filesystem_readonly{{{real}}} == 0",
            for_=context.timing.host_hold.duration, for_reason=context.timing.host_hold.reason,
            summary="A filesystem is almost full.",
            description=go_template("{mountpoint} ({device}) on {instance} has {value} free space left "
                                    f"(threshold {threshold}).", "percentage"),
            runbook_url=context.runbook(name), dashboard_url=None, value_format="percentage", family="disk",
            meaning=f"Less than {threshold} of a real, writable filesystem is free: Postgres, Redis persistence and "
                    "logs will fail to write when it fills.",
            first_checks=("What grew? (logs, WAL, backups, container images)",
                          "Can old data be rotated or the volume grown?"),
            instances=tuple(
                AlertInstance(_disk_labels(context, t), limit, False,
                              lambda level, t=t: _disk_scenario(_disk_labels(context, t), level),
                              # Fires between 80% of the threshold and the threshold: a threshold
                              # lowered by a fifth stays quiet there (half of it would not).
                              limit * FIRE_SHARE, min(limit * 1.1, (limit + 1) / 2))
                for t in context.spec.host.node_exporter_targets
            ),
        ))
    return rules


def host_rule_groups(context: RuleContext) -> list[RuleGroup]:
    if context.spec.host is None:
        return []  # host: null watches no host
    rules = (*memory_rules(context), *disk_rules(context))
    return [RuleGroup("host-alerts", tuple(rules))] if rules else []
