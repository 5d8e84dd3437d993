"""Assemble the exporter from a spec and run it: ``run_exporter`` is what ``obstack exporter`` calls.

One probe per datastore (its queues ride on its connection) and one per service health URL.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from obstack.stack.spec.model import PostgresDatastore, RedisDatastore, Spec

from .logs import JsonLog
from .loopthread import LoopThread
from .probes.base import ConnectionProbe
from .probes.http import HttpProbe
from .probes.postgres import PostgresProbe
from .probes.redis import RedisProbe
from .routes import ExporterApp
from .scheduler import ProbeScheduler
from .server import ExporterServer
from .webconfig import WebConfig, load_web_config


def build_probes(spec: Spec) -> list[ConnectionProbe]:
    """Every probe the spec declares, in spec order."""
    probes: list[ConnectionProbe] = []
    for store in spec.datastores:
        if isinstance(store, PostgresDatastore):
            probes.append(PostgresProbe(store, spec.queues))
        elif isinstance(store, RedisDatastore):
            probes.append(RedisProbe(store, spec.queues))
    probes += [HttpProbe(service) for service in spec.services]
    return probes


_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[::1]:9477``) to a socket address; ValueError, one line, when it is not one."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {listen!r}: the port must be a number from 0 to 65535, e.g. 127.0.0.1:9477")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host and not _HOST_NAME.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"--listen {listen!r}: {host!r} is neither an IP address nor a host name") from None
    return host or "127.0.0.1", int(port)


# How long stop() waits for the loop to close the server and every connection.
STOP_TIMEOUT = 5.0


@dataclass
class RunningExporter:
    """A started exporter: its address and how to stop it."""

    server: ExporterServer
    scheduler: ProbeScheduler
    loop: LoopThread
    log: JsonLog

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def scheme(self) -> str:
        return "https" if self.server.app.web.tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Close the server, every connection and probe, and the loop; once (later calls do nothing)."""
        if self.loop.loop.is_closed():
            return
        try:
            self.loop.run(self._close(), timeout=STOP_TIMEOUT)
        finally:
            self.loop.stop()
        self.log.info("stopped")

    async def _close(self) -> None:
        await self.server.close()
        await self.scheduler.close()


def start_exporter(spec: Spec, listen: str | None = None, web_config: Path | None = None,
                   log: JsonLog | None = None) -> RunningExporter:
    """Start serving on a background thread; ``listen`` defaults to the spec's (127.0.0.1:9477)."""
    log = log or JsonLog()
    config_path = web_config or (Path(spec.exporter.web_config_file) if spec.exporter.web_config_file else None)
    web = load_web_config(config_path) if config_path is not None else WebConfig()
    address = split_listen(listen or spec.exporter.listen)
    scheduler = ProbeScheduler(build_probes(spec), log)
    loop = LoopThread("obstack-exporter", log)
    try:
        server = ExporterServer(ExporterApp(spec, scheduler, web, log), address)
        loop.run(server.start(), timeout=STOP_TIMEOUT)
    except BaseException:
        loop.stop()
        raise
    log.info("listening", address=f"{address[0]}:{server.port}", tls=web.tls is not None,
             basic_auth=web.auth_required, targets=len(scheduler.probes))
    return RunningExporter(server, scheduler, loop, log)


def run_exporter(spec: Spec, listen: str | None = None, web_config: Path | None = None) -> None:
    """Serve until SIGINT or SIGTERM (the CLI's entry point).

    The handlers are in place before the "listening" line is logged: a supervisor that stops the
    exporter as soon as it announces itself gets a clean exit, not death by the default handler."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    exporter = start_exporter(spec, listen, web_config)
    try:
        stop.wait()
    finally:
        exporter.stop()
