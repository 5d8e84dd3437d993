"""The Host dashboard: memory and disk of every node-exporter target, against the host thresholds."""

from __future__ import annotations

import grafanalib.core as G

from obstack.alerts.host_rules import PSEUDO_FILESYSTEMS
from obstack.dashboards.common import datastore_links
from obstack.dashboards.panels import (
    INSTANCE,
    JOB,
    UP_MAPPINGS,
    Panel,
    alert_steps,
    dashboard,
    job_instance_variables,
    prom,
    refs,
    row,
    selector,
    stat,
    timeseries,
    up_steps,
)
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import Spec


def host_dashboard(spec: Spec) -> G.Dashboard | None:
    """None when the spec watches no host (host: null)."""
    if spec.host is None:
        return None
    thresholds = spec.host.thresholds
    scope = (JOB, INSTANCE)
    # The same filesystems DiskSpaceLow watches: real, writable ones.
    real = (*scope, f'fstype!~"{PSEUDO_FILESYSTEMS}"')
    available = selector("node_memory_MemAvailable_bytes", *scope)
    total = selector("node_memory_MemTotal_bytes", *scope)
    memory_used = f"1 - {available}\n/ {total}"
    disk_free = f"{selector('node_filesystem_avail_bytes', *real)}\n/ {selector('node_filesystem_size_bytes', *real)}"
    panels: list[Panel] = [
        row("Now"),
        stat("Memory used", "Share of memory in use per host (MemAvailable counts reclaimable cache as free); "
             "HighMemoryUsage fires above the threshold.", [prom(memory_used, "{{instance}}")], "percentunit",
             alert_steps(thresholds.memory_used), w=8),
        stat("Lowest free disk share", "The fullest real filesystem's free share; DiskSpaceLow fires below the "
             "threshold.", [prom(f"min by (instance) ({disk_free})", "{{instance}}")], "percentunit",
             alert_steps(thresholds.disk_free), w=8),
        stat("node-exporter up", "Is each node-exporter scraped? Without it every host alert is blind "
             "(NodeExporterDown, ScrapeJobMissing).", [prom(selector("up", *scope), "{{instance}}")], "none",
             up_steps(), mappings=UP_MAPPINGS, w=4),
        stat("Uptime", "Time since each host booted (a reset means a reboot).",
             [prom(f"time() - {selector('node_boot_time_seconds', *scope)}", "{{instance}}")], "s", w=4),
        row("Memory"),
        timeseries("Memory used", "Share of memory in use; dashed: the HighMemoryUsage threshold.",
                   [prom(memory_used, "{{instance}}")], "percentunit", alert_steps(thresholds.memory_used),
                   minimum=0, maximum=1),
        timeseries("Memory available and total", "Bytes available for new work without swapping, against the total.",
                   refs(prom(available, "{{instance}} available"), prom(total, "{{instance}} total")), "bytes",
                   minimum=0),
        row("Disk"),
        timeseries("Free disk share per filesystem", "Free share of each real filesystem; dashed: the DiskSpaceLow "
                   "threshold (it fires below).", [prom(disk_free, "{{instance}} {{mountpoint}}")], "percentunit",
                   alert_steps(thresholds.disk_free), minimum=0, maximum=1),
        timeseries("Disk space available", "Bytes available to non-root users per filesystem.",
                   [prom(selector("node_filesystem_avail_bytes", *real), "{{instance}} {{mountpoint}}")], "bytes",
                   minimum=0),
    ]
    return dashboard(ids.host_dashboard(spec), f"Memory and disk of the hosts node-exporter watches (team "
                     f"{spec.host.team}).", [spec.project, "host"],
                     job_instance_variables(f'node_memory_MemTotal_bytes{{job="{spec.host.job}"}}'), panels,
                     datastore_links(spec, []))
