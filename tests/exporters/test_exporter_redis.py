"""The Redis probe against a real private Redis: INFO values, faults, bounded slowness, auth."""

from __future__ import annotations

import threading
import time

from tests.exporters.conftest import redis_store, with_password

CANARY = "canary-Pa55word-7f3e91"


def _clients(server) -> list[str]:
    return [line for line in server.command("CLIENT", "LIST").splitlines() if "name=obstack-exporter" in line]


def test_info_values(private_redis, exporter_for):
    private_redis.command("CONFIG", "SET", "maxmemory", "104857600")
    private_redis.command("SET", "k", "v")
    private_redis.command("GET", "k")
    private_redis.command("GET", "missing")
    scrape = exporter_for({"datastores": [redis_store()]}, {"REDIS_URL": private_redis.url}).scrape()
    assert scrape.value("obstack_redis_up", target="cache") == 1
    assert scrape.value("obstack_redis_memory_used_bytes") > 100_000
    assert scrape.value("obstack_redis_memory_max_bytes") == 104857600
    assert scrape.value("obstack_redis_max_clients") == 10000
    assert scrape.value("obstack_redis_connected_clients") >= 1
    assert scrape.value("obstack_redis_keyspace_hits_total") >= 1
    assert scrape.value("obstack_redis_keyspace_misses_total") >= 1
    assert scrape.value("obstack_redis_last_save_success") == 1
    assert scrape.value("obstack_redis_rejected_connections_total") == 0


def test_kill_restart_and_pause_are_bounded(private_redis, exporter_for):
    exporter = exporter_for({"datastores": [redis_store()],
                             "queues": [{"name": "jobs", "backend": "bullmq", "datastore": "cache"}]},
                            {"REDIS_URL": private_redis.url})
    assert exporter.scrape(timeout_header=3).value("obstack_redis_up") == 1

    private_redis.kill()
    started = time.monotonic()
    scrape = exporter.scrape(timeout_header=3)
    assert time.monotonic() - started < 3
    assert scrape.value("obstack_redis_up") == 0
    assert scrape.value("obstack_probe_failure", kind="redis", target="cache", reason="refused") == 1
    assert scrape.value("obstack_queue_up", queue="jobs") == 0

    private_redis.restart()
    started = time.monotonic()
    assert exporter.scrape(timeout_header=3).value("obstack_redis_up") == 1
    assert time.monotonic() - started < 5

    # A server that stops answering (every client paused) is cut off at the deadline.
    pause = threading.Thread(target=private_redis.command, args=("CLIENT", "PAUSE", "3000", "ALL"))
    pause.start()
    pause.join()
    started = time.monotonic()
    scrape = exporter.scrape(timeout_header=1.5)
    assert time.monotonic() - started < 1.5
    assert scrape.value("obstack_probe_failure", kind="redis", target="cache", reason="timeout") == 1
    time.sleep(max(0.0, 3.2 - (time.monotonic() - started)))
    assert exporter.scrape(timeout_header=3).value("obstack_redis_up") == 1
    assert len(_clients(private_redis)) == 1


def test_wrong_password_is_auth_and_never_shown(private_redis, exporter_for):
    private_redis.command("ACL", "SETUSER", "app", "on", ">right-password", "~*", "+@all")
    url = with_password(private_redis.url, "app", CANARY)
    exporter = exporter_for({"datastores": [redis_store()], "queues": [
        {"name": "jobs", "backend": "rq", "datastore": "cache"}]}, {"REDIS_URL": url})
    scrape = exporter.scrape()
    assert scrape.value("obstack_redis_up") == 0
    assert scrape.value("obstack_probe_failure", kind="redis", target="cache", reason="auth") == 1
    health = exporter.scrape(path="/health")
    assert health.status == 503
    for output in (scrape.body, health.body, exporter.logs):
        assert CANARY not in output
    assert '"reason": "auth"' in exporter.logs
