"""The Redis dashboard: one row per Redis datastore of the spec, coloured at its own thresholds."""

from __future__ import annotations

import grafanalib.core as G

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
from obstack.stack.spec import dashboard_identities as ids
from obstack.stack.spec.model import RedisDatastore, Spec

# A cache answering under 80% of lookups from memory is worth a look; under 50% it mostly misses.
HIT_RATIO_STEPS = ((0.5, ORANGE), (0.8, GREEN))


def _panels(store: RedisDatastore) -> list[Panel]:
    scope = (JOB, INSTANCE, f"datastore={quoted(store.name)}")
    probe = selector("obstack_probe_duration_seconds", JOB, INSTANCE, 'kind="redis"', f"target={quoted(store.name)}")
    clients = selector("obstack_redis_connected_clients", *scope)
    max_clients = selector("obstack_redis_max_clients", *scope)
    memory = selector("obstack_redis_memory_used_bytes", *scope)
    # maxmemory 0 (Redis' default) means no limit: then there is no line to draw, and nothing to divide by.
    max_memory = f"({selector('obstack_redis_memory_max_bytes', *scope)} > 0)"
    hits = f"sum(rate({selector('obstack_redis_keyspace_hits_total', *scope)}[{RATE_INTERVAL}]))"
    misses = f"sum(rate({selector('obstack_redis_keyspace_misses_total', *scope)}[{RATE_INTERVAL}]))"
    hit_ratio = f"{hits}\n/\n({hits} + {misses})"
    connections = store.thresholds.connections
    return [
        row(f"{store.name} (team {store.team})"),
        stat("Up", f"Does the exporter's probe of {store.name} succeed? RedisDown fires after "
             f"{store.thresholds.down_for} down.", [prom(selector("obstack_redis_up", *scope))], "none",
             up_steps(), mappings=UP_MAPPINGS),
        stat("Clients used", "Connected clients as a share of maxclients; ConnectionPoolExhaustion fires above "
             "the threshold.", [prom(f"{clients}\n/ {max_clients}")], "percentunit", alert_steps(connections)),
        stat("Memory used", "Bytes Redis has allocated (used_memory). Against maxmemory in the graph below, when "
             "maxmemory is set: at 0, Redis' default, nothing limits it but the host's or container's memory.",
             [prom(memory)], "bytes"),
        stat("Hit ratio", "Share of key lookups that found their key.", [prom(hit_ratio)], "percentunit",
             steps(RED, *HIT_RATIO_STEPS)),
        stat("Persistence", "Did the last RDB save / AOF write succeed? RedisPersistenceFailing fires when not.",
             [prom(selector("obstack_redis_last_save_success", *scope))], "none", up_steps(),
             mappings=[{"type": "value", "options": {"0": {"text": "FAILING", "color": RED, "index": 0},
                                                     "1": {"text": "OK", "color": GREEN, "index": 1}}}]),
        stat("Probe latency", "How long the exporter's probe round trip took.", [prom(probe)], "s"),
        timeseries("Memory used and maxmemory", "How much memory does Redis use, and how close is it to evicting keys "
                   "(or refusing writes)? The maxmemory line shows only when maxmemory is set (not 0, Redis' default).",
                   refs(prom(memory, "used"), prom(max_memory, "maxmemory")), "bytes", w=8, minimum=0),
        timeseries("Clients against maxclients", "Connected and blocked clients, against the server's limit.",
                   refs(prom(clients, "connected"), prom(selector("obstack_redis_blocked_clients", *scope), "blocked"),
                        prom(max_clients, "maxclients")), "short", w=8, minimum=0),
        timeseries("Clients used of max", "Connected clients as a share of maxclients; dashed: the "
                   "ConnectionPoolExhaustion thresholds.", [prom(f"{clients}\n/ {max_clients}", "used")],
                   "percentunit", alert_steps(connections), w=8, minimum=0),
        timeseries("Evicted keys and rejected connections", "Is Redis throwing keys away for memory, or refusing "
                   "clients for maxclients? Per second.",
                   refs(prom(f"sum(rate({selector('obstack_redis_evicted_keys_total', *scope)}[{RATE_INTERVAL}]))",
                             "evicted keys"),
                        prom(f"sum(rate({selector('obstack_redis_rejected_connections_total', *scope)}"
                             f"[{RATE_INTERVAL}]))", "rejected connections")), "cps", w=8, minimum=0),
        timeseries("Hit ratio", "Share of key lookups that found their key, over time.", [prom(hit_ratio, "hit ratio")],
                   "percentunit", steps(RED, *HIT_RATIO_STEPS), w=8, minimum=0, maximum=1),
        timeseries("Probe latency", "How long the probe's round trip takes; it rises before Redis stops answering.",
                   [prom(probe, "probe")], "s", w=8, minimum=0),
    ]


def redis_dashboard(spec: Spec) -> G.Dashboard | None:
    stores = [s for s in spec.datastores if s.kind == "redis"]
    if not stores:
        return None
    panels = [panel for store in stores for panel in _panels(store)]
    return dashboard(ids.redis_dashboard(spec), "Reachability, memory, clients, evictions, hit ratio and "
                     "persistence of every Redis datastore, as probed by the obstack exporter.",
                     [spec.project, "datastore", "redis"], job_instance_variables("obstack_redis_up"),
                     panels, datastore_links(spec, [s.name for s in stores]))
