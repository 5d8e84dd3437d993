"""The private test servers really are private, crashable and restartable."""

from __future__ import annotations

import pytest

from tests.support.servers import (
    RESERVED_PORTS,
    PostgresServer,
    RedisServer,
    ServerCommandError,
    pid_alive,
    require_binary,
)

# --------------------------------------------------------------------------
# Postgres


def test_postgres_answers_on_its_own_non_default_port(private_postgres: PostgresServer) -> None:
    assert private_postgres.port not in RESERVED_PORTS
    assert private_postgres.is_running()
    assert private_postgres.psql("select 1") == "1"
    # The server we reached is ours, not the system one.
    assert private_postgres.psql("show port") == str(private_postgres.port)
    assert private_postgres.dsn == f"postgresql://postgres@127.0.0.1:{private_postgres.port}/postgres"


def test_postgres_kill_then_restart_same_port_keeps_data(private_postgres: PostgresServer) -> None:
    port = private_postgres.port
    private_postgres.psql("create table survivors (name text); insert into survivors values ('alice')")

    private_postgres.kill()

    assert not private_postgres.is_running()
    with pytest.raises(ServerCommandError):
        private_postgres.psql("select 1")

    private_postgres.restart()

    assert private_postgres.port == port
    assert private_postgres.psql("show port") == str(port)
    assert private_postgres.psql("select name from survivors") == "alice"


def test_postgres_clean_stop_then_restart(private_postgres: PostgresServer) -> None:
    private_postgres.stop()
    assert not private_postgres.is_running()
    with pytest.raises(ServerCommandError):
        private_postgres.psql("select 1")
    private_postgres.restart()
    assert private_postgres.psql("select 1") == "1"


def test_postgres_sql_errors_raise(private_postgres_session: PostgresServer) -> None:
    with pytest.raises(ServerCommandError, match="no_such_table"):
        private_postgres_session.psql("select * from no_such_table")


def test_postgres_cleanup_stops_server_and_removes_directory(private_postgres: PostgresServer) -> None:
    pid = private_postgres.postmaster_pid()
    assert pid is not None and pid_alive(pid)

    private_postgres.cleanup()

    assert not pid_alive(pid)
    assert not private_postgres.root.exists()
    private_postgres.cleanup()  # idempotent: the fixture calls it again


# --------------------------------------------------------------------------
# Redis


def test_redis_answers_on_its_own_non_default_port(private_redis: RedisServer) -> None:
    assert private_redis.port not in RESERVED_PORTS
    assert private_redis.url == f"redis://127.0.0.1:{private_redis.port}/0"
    assert private_redis.ping()
    assert private_redis.command("PING") == "PONG"
    assert private_redis.command("SET", "greeting", "hello") == "OK"
    assert private_redis.command("GET", "greeting") == "hello"
    # The server we reached is ours, not the system one.
    assert f"tcp_port:{private_redis.port}" in private_redis.command("INFO", "server")


def test_redis_kill_then_restart_same_port(private_redis: RedisServer) -> None:
    port = private_redis.port
    private_redis.command("SET", "volatile", "1")

    private_redis.kill()

    assert not private_redis.is_running()
    assert not private_redis.ping()
    with pytest.raises(ServerCommandError):
        private_redis.command("PING")

    private_redis.restart()

    assert private_redis.port == port
    assert private_redis.command("PING") == "PONG"
    # --save "" and no AOF: a crash loses everything, by design.
    assert private_redis.command("GET", "volatile") == ""


def test_redis_clean_stop_then_restart(private_redis: RedisServer) -> None:
    private_redis.stop()
    assert not private_redis.is_running()
    assert not private_redis.ping()
    private_redis.restart()
    assert private_redis.command("PING") == "PONG"


def test_redis_error_replies_raise(private_redis_session: RedisServer) -> None:
    with pytest.raises(ServerCommandError, match="unknown command"):
        private_redis_session.command("NO_SUCH_COMMAND")


def test_redis_cleanup_stops_server_and_removes_directory(private_redis: RedisServer) -> None:
    pid = private_redis.pid
    assert pid is not None and pid_alive(pid)

    private_redis.cleanup()

    assert not pid_alive(pid)
    assert not private_redis.root.exists()
    private_redis.cleanup()


# --------------------------------------------------------------------------
# Fixtures and helpers


def test_fixtures_never_use_system_ports(
    private_postgres: PostgresServer,
    private_redis: RedisServer,
    private_postgres_session: PostgresServer,
    private_redis_session: RedisServer,
) -> None:
    ports = [
        private_postgres.port,
        private_redis.port,
        private_postgres_session.port,
        private_redis_session.port,
    ]
    assert not set(ports) & RESERVED_PORTS
    assert len(set(ports)) == len(ports)
    assert private_postgres_session.psql("select 1") == "1"
    assert private_redis_session.command("PING") == "PONG"


def test_servers_refuse_system_ports() -> None:
    for port in sorted(RESERVED_PORTS):
        with pytest.raises(ValueError):
            RedisServer(port=port)
        with pytest.raises(ValueError):
            PostgresServer(port=port)


def test_require_binary_fails_rather_than_skips() -> None:
    with pytest.raises(pytest.fail.Exception, match="no-such-package"):
        require_binary("no-such-binary-for-tests", "no-such-package")
    assert require_binary("redis-server", "redis-server").endswith("redis-server")
