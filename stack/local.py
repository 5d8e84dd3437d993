"""`obstack local up|down|status`: the monitoring stack as local processes, without Docker.

``up`` generates the tree into the state directory, writes the runtime configs next to it
(``stack.local_config``) and starts, in dependency order, each waited on through its readiness
endpoint: the webhook receiver (Alertmanager's destination), Alertmanager (Prometheus'
destination), the obstack exporter, then Prometheus (which scrapes the exporter). Each process
gets its own session, log and pid file, so ``up`` returns while they run. ``down`` stops them in
reverse order and only after checking that each pid is still the process it started (command
line and start time), so a recycled pid is never signalled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obstack.stack.local_config import (
    fast_spec,
    local_alertmanager_config,
    local_prometheus_config,
    prometheus_fast_flags,
)
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import LoadedSpec
from obstack.stack.spec.model import NODE_JOB
from obstack.stack.writer import write_tree

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STATE_FILE = "state.json"
NOTIFICATIONS = "notifications.jsonl"
# The system servers' ports are never handed out, even if free at the moment.
RESERVED_PORTS = frozenset({5432, 6379, 9090, 9093, 9100})
NODE_EXPORTER_COLLECTORS = ("--collector.disable-defaults", "--collector.meminfo", "--collector.filesystem",
                            "--collector.stat", "--collector.cpu", "--collector.loadavg")


class LocalError(RuntimeError):
    """The local stack cannot be brought to the asked state (message is one line or a log tail)."""


@dataclass(frozen=True)
class Process:
    """One started process as recorded in the state file."""

    name: str
    pid: int
    started: int  # /proc start time (clock ticks since boot): a recycled pid has another one
    url: str
    ready_url: str
    argv: list[str]
    log: str


@dataclass(frozen=True)
class Status:
    """What ``status`` reports for one process."""

    name: str
    pid: int
    running: bool
    ready: bool
    url: str


def free_port() -> int:
    """A free port on 127.0.0.1 chosen by the kernel (never a system server's)."""
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def _start_time(pid: int) -> int | None:
    """Start time of ``pid`` from /proc, None if it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def is_running(process: Process) -> bool:
    """True while the recorded pid is still the process ``up`` started."""
    return _start_time(process.pid) == process.started


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """GET ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def load_state(state_dir: Path) -> list[Process]:
    """The processes recorded by the last ``up`` (empty when there is none)."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return []
    return [Process(**entry) for entry in json.loads(path.read_text())["processes"]]


def _save_state(state_dir: Path, processes: list[Process], extra: dict[str, Any]) -> None:
    data = {**extra, "processes": [dataclasses.asdict(p) for p in processes]}
    tmp = state_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(state_dir / STATE_FILE)  # a reader never sees half a state file


def _spawn(state_dir: Path, name: str, argv: list[str], url: str, ready_url: str,
           env: dict[str, str] | None) -> Process:
    """Start ``argv`` in its own session (it outlives ``up``) and wait for ``ready_url``."""
    log = state_dir / "logs" / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env=env, cwd=state_dir)
    started = _start_time(popen.pid)
    process = Process(name, popen.pid, started or 0, url, ready_url, argv, str(log))
    (state_dir / "pids" / f"{name}.pid").write_text(f"{popen.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while not http_ok(ready_url, timeout=1.0):
        if popen.poll() is not None:
            raise LocalError(f"{name} exited with status {popen.returncode} at start:\n{_tail(str(log))}")
        if time.monotonic() > deadline:
            _stop(process)
            raise LocalError(f"{name} not ready at {ready_url} within {READY_TIMEOUT:g}s:\n{_tail(str(log))}")
        time.sleep(0.1)
    return process


def _write_runtime_configs(state_dir: Path, tree: Path, ports: dict[str, int], node_job: str) -> None:
    """Prometheus and Alertmanager configs for local ports, beside copies of their rules/templates
    (with --fast, the tree was generated on the fast clock: the rules are copied as they are)."""
    addr = {name: f"{HOST}:{port}" for name, port in ports.items()}
    prom_dir, am_dir = state_dir / "prometheus", state_dir / "alertmanager"
    for directory in (prom_dir / "rules", am_dir):
        shutil.rmtree(directory, ignore_errors=True)
    (prom_dir / "rules").mkdir(parents=True)
    for rule_file in sorted((tree / "prometheus" / "rules").glob("*.yml")):
        shutil.copyfile(rule_file, prom_dir / "rules" / rule_file.name)
    config = yaml.safe_load((tree / "prometheus" / "prometheus.yml").read_text())
    local = local_prometheus_config(config, addr["prometheus"], addr["alertmanager"], addr["exporter"],
                                    addr["node-exporter"], node_job)
    (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(local, sort_keys=False))
    # Prometheus applies discovered targets only after up to 5s; with --fast holds of 2s, an
    # absent()-based alert (ServiceDown) would fire on that delay alone. So Prometheus starts
    # without rules, and `up` loads them once every job has been scraped (_load_rules).
    (prom_dir / "prometheus.start.yml").write_text(
        yaml.safe_dump({**local, "rule_files": []}, sort_keys=False))
    shutil.copytree(tree / "alertmanager", am_dir)  # templates/ stay relative to the config
    config = yaml.safe_load((tree / "alertmanager" / "alertmanager.yml").read_text())
    local = local_alertmanager_config(config, f"http://{addr['receiver']}")
    (am_dir / "alertmanager.yml").write_text(yaml.safe_dump(local, sort_keys=False))


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LocalError(f"{name} not found; install the Debian package {package!r} (apt-get install {package})")
    return path


def up(loaded: LoadedSpec, spec_path: Path | None, state_dir: Path, fast: bool = False,
       env: dict[str, str] | None = None) -> list[Process]:
    """Generate, configure and start the stack; on any failure stop what was started and raise."""
    if any(is_running(p) for p in load_state(state_dir)):
        raise LocalError(f"{state_dir}: the local stack is already up; run `obstack local down` first")
    prometheus_bin = _binary("prometheus", "prometheus")
    alertmanager_bin = _binary("prometheus-alertmanager", "prometheus-alertmanager")
    node_exporter_bin = _binary("prometheus-node-exporter", "prometheus-node-exporter")
    for sub in ("logs", "pids"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    spec = fast_spec(loaded.spec) if fast else loaded.spec
    tree = state_dir / "tree"
    write_tree(tree, generate(dataclasses.replace(loaded, spec=spec)), force=True)
    ports = {name: free_port() for name in ("receiver", "alertmanager", "node-exporter", "exporter", "prometheus")}
    node_job = spec.host.job if spec.host is not None else NODE_JOB  # without host, no job to point at it
    _write_runtime_configs(state_dir, tree, ports, node_job)
    url = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    python = [sys.executable, "-m", "obstack"]
    spec_args = ["--spec", str(spec_path.resolve())] if spec_path is not None else []
    plan = [
        ("receiver", python + ["receiver", "--listen", f"{HOST}:{ports['receiver']}",
                               "--record", str(state_dir / NOTIFICATIONS)], "/-/ready"),
        ("alertmanager", [alertmanager_bin, f"--config.file={state_dir / 'alertmanager' / 'alertmanager.yml'}",
                          f"--storage.path={state_dir / 'alertmanager' / 'data'}",
                          f"--web.listen-address={HOST}:{ports['alertmanager']}", "--cluster.listen-address="],
         "/-/ready"),
        # The host's memory and filesystems: what the host alerts read (a handful of collectors
        # keeps each 1s scrape cheap).
        ("node-exporter", [node_exporter_bin, f"--web.listen-address={HOST}:{ports['node-exporter']}",
                           *NODE_EXPORTER_COLLECTORS], "/metrics"),
        # /livez, not /readyz: /readyz answers for the monitored datastores, and the monitoring
        # stack must come up (and report them down) while they are down.
        ("exporter", python + ["exporter", *spec_args, "--listen", f"{HOST}:{ports['exporter']}"], "/livez"),
        ("prometheus", [prometheus_bin, f"--config.file={state_dir / 'prometheus' / 'prometheus.start.yml'}",
                        f"--storage.tsdb.path={state_dir / 'prometheus' / 'data'}",
                        f"--web.listen-address={HOST}:{ports['prometheus']}", "--web.enable-lifecycle",
                        *(prometheus_fast_flags() if fast else [])],
         "/-/ready"),
    ]
    # The children must import this checkout even when started from elsewhere.
    child_env = dict(env if env is not None else os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, child_env.get("PYTHONPATH")]))
    started: list[Process] = []
    extra = {"fast": fast, "spec": str(spec_path) if spec_path else None}
    try:
        for name, argv, ready in plan:
            started.append(_spawn(state_dir, name, argv, url[name], url[name] + ready, child_env))
            _save_state(state_dir, started, extra)  # `down` can stop a half-started stack
        _load_rules(state_dir / "prometheus", url["prometheus"])
    except BaseException:
        down(state_dir)
        raise
    return started


def _get_json(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read()
    return json.loads(body) if body.strip().startswith(b"{") else None


def _load_rules(prom_dir: Path, url: str) -> None:
    """Wait until every scrape job has a first sample, then switch to the config with rules."""
    jobs = len(yaml.safe_load((prom_dir / "prometheus.yml").read_text())["scrape_configs"])
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        result = _get_json(f"{url}/api/v1/query?query=count(up)")["data"]["result"]
        if result and int(result[0]["value"][1]) >= jobs:
            break
        if time.monotonic() > deadline:
            raise LocalError(f"prometheus: not every one of {jobs} jobs scraped within {READY_TIMEOUT:g}s")
        time.sleep(0.2)
    start = prom_dir / "prometheus.start.yml"
    start.write_text((prom_dir / "prometheus.yml").read_text())
    _get_json(f"{url}/-/reload", "POST")  # synchronous: answers once the rules are loaded
    if not _get_json(f"{url}/api/v1/rules")["data"]["groups"]:
        raise LocalError(f"prometheus: no rule group loaded after reload; see {prom_dir}")


def _stop(process: Process) -> bool:
    """SIGTERM (then SIGKILL) one recorded process if it is still ours; True if it was running."""
    if not is_running(process):
        return False
    os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while is_running(process) and time.monotonic() < deadline:
        _reap(process.pid)
        time.sleep(0.05)
    if is_running(process):
        os.kill(process.pid, signal.SIGKILL)
    _reap(process.pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when ``up`` ran in this very process (tests), so no zombie stays."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: `up` ran in another process, init reaps it


def down(state_dir: Path) -> list[str]:
    """Stop, in reverse start order, exactly the processes ``up`` recorded; names of those stopped."""
    stopped = [p.name for p in reversed(load_state(state_dir)) if _stop(p)]
    for pid_file in (state_dir / "pids").glob("*.pid"):
        pid_file.unlink()
    state = state_dir / STATE_FILE
    if state.exists():
        state.unlink()
    return stopped


def status(state_dir: Path) -> list[Status]:
    """Each recorded process: alive (still ours) and ready (its readiness endpoint answers)."""
    result = []
    for process in load_state(state_dir):
        running = is_running(process)
        result.append(Status(process.name, process.pid, running,
                             running and http_ok(process.ready_url), process.url))
    return result
