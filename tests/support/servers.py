"""Private PostgreSQL and Redis servers for tests, started from installed binaries.

Every server lives in its own temporary directory and listens on a free
TCP port on 127.0.0.1 chosen by the kernel, so tests never touch the
system servers on 5432/6379 or anything else they did not start.  Tests
may stop, kill (SIGKILL, to simulate a crash) and restart their server;
a restart reuses the same port and data directory so clients can
reconnect to the same address.

PostgreSQL refuses to run as root, so when the suite runs as root the
server tools run as the ``postgres`` system user and the temporary
directory is handed over to that user.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

HOST = "127.0.0.1"
# The system servers' ports: a private server must never land on them.
RESERVED_PORTS = frozenset({5432, 6379})
READY_TIMEOUT = 30.0
COMMAND_TIMEOUT = 30.0
POSTGRES_USER = "postgres"
POSTGRES_LIB = Path("/usr/lib/postgresql")

# Binary -> Debian package that ships it, for actionable failure messages.
POSTGRES_BINARIES: Mapping[str, str] = {
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "postgres": "postgresql",
    "psql": "postgresql-client",
}
REDIS_BINARIES: Mapping[str, str] = {
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
}


class ServerCommandError(RuntimeError):
    """A helper command (psql, redis-cli, pg_ctl, ...) exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{shlex.join(self.argv)} exited {returncode}: {(stderr or stdout).strip()}"
        )


# --------------------------------------------------------------------------
# Binaries


def postgres_bindirs() -> list[Path]:
    """Debian's versioned Postgres bin directories, newest version first."""

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))

    found = [d for d in POSTGRES_LIB.glob("*/bin") if (d / "pg_ctl").is_file()]
    return sorted(found, key=version, reverse=True)


def find_postgres_bindir() -> Path | None:
    """Newest Debian Postgres bin dir, else wherever ``pg_ctl`` is on PATH."""
    bindirs = postgres_bindirs()
    if bindirs:
        return bindirs[0]
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def find_binary(name: str) -> str | None:
    """Locate ``name``, preferring the Postgres bin dir.

    Debian keeps ``initdb``/``pg_ctl``/``postgres`` off PATH, and using
    ``psql`` from the same directory keeps client and server versions
    consistent; everything else comes from PATH.
    """
    bindir = find_postgres_bindir()
    if bindir is not None:
        candidate = bindir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_binary(name: str, package: str) -> str:
    """Return the path of ``name`` or fail the test, naming the Debian package.

    This fails rather than skips on purpose: a missing tool must never let
    the suite pass silently.
    """
    path = find_binary(name)
    if path is None:
        pytest.fail(
            f"required binary {name!r} not found; install the Debian package "
            f"{package!r} (apt-get install {package})",
            pytrace=False,
        )
    return path


def require_binaries(binaries: Mapping[str, str]) -> None:
    """``require_binary`` for every (binary, package) pair."""
    for name, package in binaries.items():
        require_binary(name, package)


# --------------------------------------------------------------------------
# Small process / network helpers


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, never one of RESERVED_PORTS."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def _process_state(pid: int) -> str | None:
    """State letter of ``pid`` from /proc, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces or ')'; the state follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs; zombies count as dead.

    A killed daemon is re-parented to PID 1, which in a container may never
    reap it, so "exists" is not the same as "running".
    """
    state = _process_state(pid)
    return state is not None and state not in ("Z", "X")


def _child_pids(parent: int) -> list[int]:
    """PIDs whose parent is ``parent`` (scanned from /proc)."""
    children = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(stat_path.parent.name))
    return children


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _tail(path: Path, lines: int = 40) -> str:
    """Last ``lines`` lines of a log file, for startup error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> str:
    """Run ``argv`` (never through a shell) and return stdout; raise on failure."""
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ServerCommandError(argv, result.returncode, result.stdout, result.stderr)
    return result.stdout


# --------------------------------------------------------------------------
# Servers


class _PrivateServer(ABC):
    """Temp dir, port and lifecycle plumbing shared by the concrete servers."""

    kind = "server"
    log_name = "server.log"

    def __init__(self, port: int | None = None) -> None:
        self._port = port if port is not None else free_port()
        if self._port in RESERVED_PORTS:
            raise ValueError(f"port {self._port} belongs to a system server; refusing to use it")
        self._root = Path(tempfile.mkdtemp(prefix=f"private-{self.kind}-"))
        self._cleaned = False

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def kill(self) -> None: ...

    @abstractmethod
    def is_running(self) -> bool: ...

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._port

    @property
    def root(self) -> Path:
        """The temporary directory holding data, sockets and the log."""
        return self._root

    @property
    def log_path(self) -> Path:
        return self._root / self.log_name

    def restart(self) -> None:
        """Start again on the same port and data directory (after stop or kill)."""
        if self.is_running():
            self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server if it runs and delete its directory; idempotent."""
        if self._cleaned:
            return
        try:
            if self.is_running():
                try:
                    self.stop()
                except (RuntimeError, subprocess.TimeoutExpired):
                    # A wedged server must not leak past the test.
                    self.kill()
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            self._cleaned = True

    def _startup_error(self, message: str) -> RuntimeError:
        return RuntimeError(
            f"private {self.kind} on port {self._port} failed to start: {message}\n"
            f"--- last lines of {self.log_path} ---\n{_tail(self.log_path)}"
        )

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<{type(self).__name__} {self.host}:{self._port} {state} {self._root}>"


class PostgresServer(_PrivateServer):
    """A throwaway PostgreSQL cluster managed with initdb/pg_ctl.

    ``initdb`` runs on the first ``start()`` only, so data survives
    ``stop()``/``kill()`` + ``restart()``.
    """

    kind = "postgres"
    log_name = "postgres.log"
    STOP_MODES = frozenset({"smart", "fast", "immediate"})

    def __init__(self, bindir: Path | str | None = None, port: int | None = None) -> None:
        found = Path(bindir) if bindir is not None else find_postgres_bindir()
        if found is None:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; "
                "install the Debian package 'postgresql'"
            )
        self._bindir = found
        # Postgres refuses to run as root; hand the work to the postgres user.
        self._run_as = POSTGRES_USER if os.geteuid() == 0 else None
        super().__init__(port)
        if self._run_as is not None:
            self._give_root_to_server_user()

    # -- public API --------------------------------------------------------

    @property
    def bindir(self) -> Path:
        return self._bindir

    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def user(self) -> str:
        """The database superuser created by initdb."""
        return "postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self._port}/postgres"

    def start(self) -> None:
        if self.is_running():
            return
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        self._clear_stale_lockfiles()
        options = shlex.join(
            [
                "-p", str(self._port),
                "-k", str(self._root),
                "-c", f"listen_addresses={HOST}",
                # Throwaway data: skip fsync for speed.
                "-c", "fsync=off",
            ]
        )
        argv = [
            str(self._bindir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-o", options,
            "-l", str(self.log_path),
            "-w", "-t", str(int(READY_TIMEOUT)),
            "start",
        ]
        try:
            self._run_server_tool(argv, timeout=READY_TIMEOUT + 10)
        except (ServerCommandError, subprocess.TimeoutExpired) as exc:
            raise self._startup_error(str(exc)) from exc

    def stop(self, mode: str = "fast") -> None:
        if mode not in self.STOP_MODES:
            raise ValueError(f"stop mode must be one of {sorted(self.STOP_MODES)}, not {mode!r}")
        if not self.is_running():
            return
        argv = [
            str(self._bindir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-m", mode,
            "-w", "-t", str(int(READY_TIMEOUT)),
            "stop",
        ]
        self._run_server_tool(argv, timeout=READY_TIMEOUT + 10)

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash) and wait until its children are gone.

        Surviving backends would keep shared memory attached and make the
        next start fail, so we wait for them (they exit on postmaster death)
        and SIGKILL any that linger.
        """
        pid = self.postmaster_pid()
        if pid is None or not pid_alive(pid):
            return
        children = _child_pids(pid)
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not pid_alive(pid), READY_TIMEOUT)
        if not _wait_until(lambda: not any(pid_alive(c) for c in children), 10.0):
            for child in children:
                if pid_alive(child):
                    os.kill(child, signal.SIGKILL)
            _wait_until(lambda: not any(pid_alive(c) for c in children), READY_TIMEOUT)

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and pid_alive(pid)

    def postmaster_pid(self) -> int | None:
        """PID recorded in data/postmaster.pid, or None without a lock file."""
        return self._lockfile_pid(self.data_dir / "postmaster.pid")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return unaligned, tuples-only output.

        Raises ServerCommandError if psql cannot connect or the SQL fails.
        """
        argv = [
            str(self._psql_binary()),
            "-X", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-h", self.host,
            "-p", str(self._port),
            "-U", self.user,
            "-d", database,
            "-c", sql,
        ]
        env = self._clean_env()
        # Fail fast against a killed server instead of hanging.
        env["PGCONNECT_TIMEOUT"] = "5"
        return _run(argv, env=env).rstrip("\n")

    # -- internals ---------------------------------------------------------

    def _initdb(self) -> None:
        argv = [
            str(self._bindir / "initdb"),
            "-D", str(self.data_dir),
            "-U", self.user,
            "--auth=trust",
            "-E", "UTF8",
            # A fixed locale keeps initdb independent of the caller's environment.
            "--locale=C",
            # Throwaway cluster: no need to fsync the new files.
            "--no-sync",
        ]
        try:
            self._run_server_tool(argv, timeout=120)
        except (ServerCommandError, subprocess.TimeoutExpired) as exc:
            raise self._startup_error(f"initdb failed: {exc}") from exc

    def _run_server_tool(self, argv: Sequence[str], timeout: float) -> str:
        """Run a server-side tool, as the postgres user when we are root."""
        # cwd is our own directory: the postgres user may not be able to
        # read the caller's working directory.
        return _run(self._as_server_user(argv), cwd=self._root, env=self._clean_env(), timeout=timeout)

    def _as_server_user(self, argv: Sequence[str]) -> list[str]:
        if self._run_as is None:
            return list(argv)
        runuser = shutil.which("runuser")
        if runuser is not None:
            return [runuser, "-u", self._run_as, "--", *argv]
        su = shutil.which("su")
        if su is None:
            raise RuntimeError("running as root needs 'runuser' or 'su' (Debian package 'util-linux')")
        return [su, self._run_as, "-s", "/bin/sh", "-c", shlex.join(argv)]

    def _give_root_to_server_user(self) -> None:
        assert self._run_as is not None
        try:
            account = pwd.getpwnam(self._run_as)
        except KeyError:
            shutil.rmtree(self._root, ignore_errors=True)
            raise RuntimeError(
                f"running as root but there is no {self._run_as!r} system user to run Postgres as"
            ) from None
        os.chown(self._root, account.pw_uid, account.pw_gid)
        os.chmod(self._root, 0o700)

    def _psql_binary(self) -> Path:
        psql = self._bindir / "psql"
        if psql.is_file():
            return psql
        found = shutil.which("psql")
        if found is None:
            raise RuntimeError("psql not found; install the Debian package 'postgresql-client'")
        return Path(found)

    def _clear_stale_lockfiles(self) -> None:
        """Remove lock files left by a killed postmaster.

        Postgres refuses to start while the PID in a lock file still exists,
        and an unreaped zombie postmaster still exists.
        """
        for lockfile in (self.data_dir / "postmaster.pid", self._root / f".s.PGSQL.{self._port}.lock"):
            pid = self._lockfile_pid(lockfile)
            if pid is not None and not pid_alive(pid):
                lockfile.unlink(missing_ok=True)

    @staticmethod
    def _lockfile_pid(lockfile: Path) -> int | None:
        try:
            first_line = lockfile.read_text().split("\n", 1)[0].strip()
        except OSError:
            return None
        return int(first_line) if first_line.isdigit() else None

    @staticmethod
    def _clean_env() -> dict[str, str]:
        """The environment minus PG* variables, so nothing redirects us to another server."""
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class RedisServer(_PrivateServer):
    """A throwaway, non-persistent redis-server run as a child process.

    Persistence is off (``--save ""``, no AOF), so data does not survive
    a stop or kill; the port does.
    """

    kind = "redis"
    log_name = "redis.log"

    def __init__(self, binary: str | None = None, cli: str | None = None, port: int | None = None) -> None:
        server = binary or shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server not found; install the Debian package 'redis-server'")
        self._server_binary = server
        self._cli_binary = cli or shutil.which("redis-cli")
        self._proc: subprocess.Popen[bytes] | None = None
        super().__init__(port)

    # -- public API --------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self._port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        if self.is_running():
            return
        argv = [
            self._server_binary,
            "--port", str(self._port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._root),
            "--daemonize", "no",
        ]
        # Append so the log keeps the history across restarts.
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self._root
            )
        self._wait_ready()

    def stop(self) -> None:
        """Graceful SHUTDOWN NOSAVE, escalating to SIGTERM/SIGKILL if ignored."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._send(b"SHUTDOWN NOSAVE\r\n")
            except OSError:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=READY_TIMEOUT)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server (a crash); in-memory data is lost."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=READY_TIMEOUT)
        self._proc = None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ping(self) -> bool:
        """True if the server answers PING (raw RESP: no client library needed)."""
        try:
            return self._send(b"PING\r\n").startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> str:
        """Run one command with redis-cli and return its output.

        Raises ServerCommandError on connection failure or an error reply.
        """
        if self._cli_binary is None:
            raise RuntimeError("redis-cli not found; install the Debian package 'redis-tools'")
        # -e: without it redis-cli exits 0 even when the reply is an error.
        argv = [self._cli_binary, "-e", "-h", self.host, "-p", str(self._port), *args]
        return _run(argv).rstrip("\n")

    # -- internals ---------------------------------------------------------

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ping():
            if proc.poll() is not None:
                self._proc = None
                raise self._startup_error(f"redis-server exited with status {proc.returncode}")
            if time.monotonic() >= deadline:
                self.kill()
                raise self._startup_error(f"no PONG within {READY_TIMEOUT:.0f}s")
            time.sleep(0.05)

    def _send(self, payload: bytes) -> bytes:
        """Send a raw RESP inline command and return the first reply line."""
        with socket.create_connection((self.host, self._port), timeout=2) as sock:
            sock.sendall(payload)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(512)
                if not chunk:
                    break
                reply += chunk
            return reply
