"""Queue probes on a real Redis filled by the real client libraries: bullmq, rq, celery (kombu)."""

from __future__ import annotations

import json
import time

import redis

from obstack.exporters.probes import redis as redis_probe

from tests.exporters.conftest import redis_store
from tests.exporters.queue_fill import close_bullmq, fill_bullmq, fill_celery, fill_rq


def keyspace(url: str) -> dict[bytes, tuple[bytes | None, int]]:
    """Every key's serialized value and absolute expiry: equal snapshots mean nothing was written."""
    client = redis.Redis.from_url(url)
    return {key: (client.dump(key), client.execute_command("PEXPIRETIME", key)) for key in client.scan_iter(count=1000)}


def _spec(*queues: dict) -> dict:
    return {"datastores": [redis_store()], "queues": [{"datastore": "cache", **q} for q in queues]}


def test_bullmq_states_backlog_oldest_paused_workers_dead_letter(private_redis, exporter_for):
    loop, handles = fill_bullmq(private_redis.url)
    try:
        exporter = exporter_for(_spec({"name": "jobs", "backend": "bullmq", "dead_letter": "jobs-dlq"}),
                                {"REDIS_URL": private_redis.url})
        scrape = exporter.scrape()
        labels = {"queue": "jobs", "backend": "bullmq"}
        assert scrape.value("obstack_queue_up", **labels) == 1
        expected = {"waiting": 3, "prioritized": 2, "active": 0, "delayed": 1, "waiting-children": 0,
                    "completed": 0, "failed": 2}
        for state, count in expected.items():
            assert scrape.value("obstack_queue_jobs", **labels, state=state) == count, state
        assert scrape.value("obstack_queue_backlog_jobs", **labels) == 5  # waiting + prioritized
        # The oldest waiting job is the low-priority one (300 s), found by the per-level scan.
        assert 299 <= scrape.value("obstack_queue_oldest_job_age_seconds", **labels) < 330
        assert scrape.value("obstack_queue_paused", **labels) == 1
        assert scrape.value("obstack_queue_workers", **labels) >= 1
        assert scrape.value("obstack_queue_dead_letter_jobs", **labels) == 2
        # BullMQ's own counters: every add, and the jobs its metrics-enabled worker finished,
        # the completed one too although removeOnComplete left none in the completed set.
        assert scrape.value("obstack_queue_added_jobs_total", **labels) == 9
        assert scrape.value("obstack_queue_completed_jobs_total", **labels) == 1
        assert scrape.value("obstack_queue_failed_jobs_total", **labels) == 2
    finally:
        close_bullmq(loop, handles)
    # With the worker gone the keyspace is still; probing it must leave it byte-identical.
    before = keyspace(private_redis.url)
    for _ in range(3):
        scrape = exporter.scrape()
    assert scrape.value("obstack_queue_workers", queue="jobs") == 0
    assert keyspace(private_redis.url) == before


def test_rq_states_backlog_oldest_workers_suspended(private_redis, exporter_for):
    expected = fill_rq(private_redis.url)
    before = keyspace(private_redis.url)
    exporter = exporter_for(_spec({"name": "default", "backend": "rq"}), {"REDIS_URL": private_redis.url})
    scrape = exporter.scrape()
    labels = {"queue": "default", "backend": "rq"}
    assert scrape.value("obstack_queue_up", **labels) == 1
    for state, count in {**expected, "active": 0, "canceled": 0}.items():
        assert scrape.value("obstack_queue_jobs", **labels, state=state) == count, state
    assert scrape.value("obstack_queue_backlog_jobs", **labels) == 3
    assert 179 <= scrape.value("obstack_queue_oldest_job_age_seconds", **labels) < 210
    assert scrape.value("obstack_queue_workers", **labels) == 1
    assert scrape.value("obstack_queue_paused", **labels) == 1
    assert keyspace(private_redis.url) == before


def test_celery_priority_lists_reserved_and_prefix(private_redis, exporter_for):
    app, connection, simple, reserved = fill_celery(private_redis.url, prefix="app1:")
    try:
        before = keyspace(private_redis.url)
        exporter = exporter_for(_spec({"name": "celery", "backend": "celery", "prefix": "app1:"}),
                                {"REDIS_URL": private_redis.url})
        scrape = exporter.scrape()
        labels = {"queue": "celery", "backend": "celery"}
        assert scrape.value("obstack_queue_up", **labels) == 1
        assert scrape.value("obstack_queue_jobs", **labels, state="waiting") == 3
        assert scrape.value("obstack_queue_jobs", **labels, state="prioritized") == 3
        assert scrape.value("obstack_queue_jobs", **labels, state="reserved") == 1
        assert scrape.value("obstack_queue_backlog_jobs", **labels) == 6  # every priority list
        assert scrape.value("obstack_queue_paused", **labels) == 0
        # Celery messages carry no enqueue time and the broker no worker registry.
        assert scrape.value("obstack_queue_oldest_job_age_seconds", **labels) is None
        assert scrape.value("obstack_queue_workers", **labels) is None
        assert keyspace(private_redis.url) == before
    finally:
        simple.close()
        connection.release()


def test_wrong_key_type_fails_one_queue_only(private_redis, exporter_for):
    private_redis.command("SET", "rq:queue:broken", "not a list")
    exporter = exporter_for(_spec({"name": "broken", "backend": "rq"}, {"name": "fine", "backend": "rq"}),
                            {"REDIS_URL": private_redis.url})
    scrape = exporter.scrape()
    assert scrape.value("obstack_redis_up") == 1
    assert scrape.value("obstack_queue_up", queue="fine") == 1
    assert scrape.value("obstack_queue_up", queue="broken") == 0
    assert scrape.value("obstack_probe_failure", kind="queue", target="broken", reason="protocol") == 1


def _bullmq_queues(url: str, count: int) -> list[dict]:
    """``count`` BullMQ queues, queue i holding i + 1 waiting jobs (written as bullmq lays them out:
    a wait list of ids and a job hash with its enqueue time)."""
    client = redis.Redis.from_url(url)
    for index in range(count):
        for job in range(1, index + 2):
            client.hset(f"bull:q{index}:{job}", mapping={"timestamp": 1000 * int(time.time()), "name": "j"})
            client.lpush(f"bull:q{index}:wait", str(job))
    return [{"name": f"q{index}", "backend": "bullmq"} for index in range(count)]


def test_queues_are_read_in_calls_of_a_bounded_size_and_each_reads_its_own(private_redis, exporter_for,
                                                                         monkeypatch):
    """A script runs alone in Redis: the queues are read QUEUE_BATCH at a time, one call each, so
    other clients are served between the calls; every queue still reads its own jobs."""
    monkeypatch.setattr(redis_probe, "QUEUE_BATCH", 3)
    queues = _bullmq_queues(private_redis.url, 7)
    exporter = exporter_for(_spec(*queues), {"REDIS_URL": private_redis.url})
    client = redis.Redis.from_url(private_redis.url)
    client.config_resetstat()
    scrape = exporter.scrape()
    assert client.info("commandstats")["cmdstat_eval_ro"]["calls"] == 3  # 3 + 3 + 1 queues
    for index in range(7):
        assert scrape.value("obstack_queue_backlog_jobs", queue=f"q{index}") == index + 1


def test_an_outage_of_many_queues_is_logged_in_a_few_lines(private_redis, exporter_for):
    """Redis down fails every queue in it at once: one line for Redis, one for its queues (with
    their count and the first few names), and the same on recovery; not a line per queue."""
    queues = _bullmq_queues(private_redis.url, 12)
    exporter = exporter_for(_spec(*queues), {"REDIS_URL": private_redis.url})
    assert exporter.scrape().value("obstack_redis_up") == 1
    private_redis.stop()
    assert exporter.scrape(timeout_header=2).value("obstack_redis_up") == 0
    private_redis.start()
    deadline = time.monotonic() + 10
    while exporter.scrape(timeout_header=2).value("obstack_redis_up") != 1:
        assert time.monotonic() < deadline, "no recovery within 10 s"
    records = [json.loads(line) for line in exporter.logs.splitlines() if '"probe_' in line]
    assert [(r["event"], r["kind"]) for r in records] == [
        ("probe_failed", "redis"), ("probe_failed", "queue"), ("probe_recovered", "redis"), ("probe_recovered", "queue")]
    for record in records[1::2]:
        assert record["count"] == 12 and record["targets"] == ["q0", "q1", "q2", "q3", "q4"]
