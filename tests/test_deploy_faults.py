"""`obstack deploy` (the real command) against fake servers that misbehave after the files are
written (tests/support/fault_server.py), one fault per deploy step: every failure rolls back to
the previous files, writes the audit line and ends with one line, within the deadlines, reading
bounded answers and following no redirects."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from obstack.stack.deploy import files
from obstack.stack.deploy.runner import Deployer, DeployRequest
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.writer import write_tree
from tests.support.fault_server import FaultServer
from tests.test_deploy import REPO, SPEC

pytestmark = pytest.mark.long_running(60)  # seconds in one process: a pre-flight per deploy

# Short request timeouts keep the trickle tests short; no retries keep one fault one failure.
DEPLOY = """
deploy:
  timeouts: {request: 3s, retries: 0TOTAL}
"""
OLD_CONFIG = "route:\n  receiver: hand-written\nreceivers:\n- name: hand-written\n"


def tree(tmp_path: Path, total: str = "") -> tuple[Path, Path]:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC.replace("ERROR_RATE", "5%").replace("DATASTORES", "")
                    + DEPLOY.replace("TOTAL", f", deploy: {total}" if total else ""), encoding="utf-8")
    out = tmp_path / "build"
    write_tree(out, generate(load_spec(spec)))
    return spec, out


def command(spec: Path, out: Path, audit: Path, server: FaultServer) -> list[str]:
    target = (["--prometheus", server.url, "--rules-dir", str(server.path)] if server.kind == "prometheus" else
              ["--alertmanager", server.url, "--alertmanager-config", str(server.path)])
    return [sys.executable, "-m", "obstack", "deploy", "--spec", str(spec), "--out", str(out), "--audit-log", str(audit), *target]


@contextmanager
def fake(tmp_path: Path, kind: str, fault: str, elsewhere: str = "") -> Iterator[FaultServer]:
    if kind == "prometheus":
        path = tmp_path / "rules"
        path.mkdir()
    else:
        path = tmp_path / "alertmanager" / "alertmanager.yml"
        path.parent.mkdir()
        path.write_text(OLD_CONFIG)
    with FaultServer(kind, path, fault, elsewhere=elsewhere) as server:
        yield server


def assert_rolled_back(server: FaultServer, audit: Path, stderr: str, failure: str) -> None:
    """The previous files are back, the audit line and the last line name the failure and the rollback."""
    assert "Traceback" not in stderr, stderr
    if server.kind == "prometheus":
        assert sorted(p.name for p in server.path.iterdir()) == [], "the new rule files and manifest are removed"
    else:
        assert sorted(p.name for p in server.path.parent.rglob("*") if p.is_file()) == ["alertmanager.yml"]
        assert server.path.read_text() == OLD_CONFIG
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"deploy failed: {server.kind}") and failure in last, last
    assert f"rolled back: {server.kind} restored" in last, last
    lines = audit.read_text().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])["result"]
    assert result.startswith(f"failed: {server.kind}") and failure in result and f"{server.kind} restored" in result


def run_deploy(tmp_path: Path, server: FaultServer, total: str = "", limit: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    spec, out = tree(tmp_path, total)
    started = time.monotonic()
    result = subprocess.run(command(spec, out, tmp_path / "audit.jsonl", server), capture_output=True, text=True,
                            timeout=limit, cwd=REPO)
    return result, time.monotonic() - started


@pytest.mark.parametrize("kind, fault, failure", [
    ("prometheus", "no-lastConfigTime", "prometheus runtimeinfo: the answer has no lastConfigTime"),
    ("prometheus", "groups-not-a-list", "prometheus rules: data.groups is dict, expected list"),
    ("alertmanager", "status-without-config", "alertmanager status: the answer has no config"),
])
def test_an_unexpected_answer_after_the_write_rolls_back_and_audits(
        tmp_path: Path, kind: str, fault: str, failure: str) -> None:
    with fake(tmp_path, kind, fault) as server:
        result, _ = run_deploy(tmp_path, server)
        assert server.struck == 1 and server.reloads == 2, server.requests  # the deploy's reload and the rollback's
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr, failure)


@pytest.mark.parametrize("fault", ["trickle-body", "trickle-headers"])
def test_a_trickling_server_cannot_hold_a_request_past_its_timeout(tmp_path: Path, fault: str) -> None:
    with fake(tmp_path, "prometheus", fault) as server:
        result, seconds = run_deploy(tmp_path, server, limit=90)
        assert server.struck == 1
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr, "cannot reach prometheus")
    assert seconds < 30, f"{seconds:.1f}s with a 3s request timeout"


def test_a_huge_answer_is_not_read_past_the_cap(tmp_path: Path) -> None:
    with fake(tmp_path, "prometheus", "huge-error-body") as server:
        result, _ = run_deploy(tmp_path, server)
        assert server.struck == 1
        time.sleep(0.5)
        sent = server.bytes_sent
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr, "POST /-/reload answered more than 16 MiB")
    assert sent < 64 * 1024 * 1024, f"deploy read {sent} bytes of a 300 MB answer"


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with FaultServer("prometheus", tmp_path / "nowhere", host="127.0.0.2") as elsewhere:
        with fake(tmp_path, "prometheus", "redirect-elsewhere", elsewhere=elsewhere.url) as server:
            result, _ = run_deploy(tmp_path, server)
            assert server.struck == 1
    assert elsewhere.requests == []
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr,
                       f"answered 302 redirecting to '{elsewhere.url}/api/v1/status/runtimeinfo'")


def test_a_302_on_the_reload_post_is_not_turned_into_a_get(tmp_path: Path) -> None:
    with fake(tmp_path, "prometheus", "reload-302") as server:
        result, _ = run_deploy(tmp_path, server)
        assert server.struck == 1
    assert ("GET", "/-/reload") not in server.requests
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr, "POST /-/reload answered 302")


def test_the_deploy_deadline_bounds_a_verification_that_never_ends(tmp_path: Path) -> None:
    """Verification would wait 60 s (deploy.timeouts.verify); the deploy's own deadline is 5 s."""
    with fake(tmp_path, "prometheus", "rules-pending") as server:
        result, seconds = run_deploy(tmp_path, server, total="5s")
    assert result.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", result.stderr, "the deploy's deadline of 5s passed")
    assert seconds < 40, f"{seconds:.1f}s"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_verification_rolls_back_and_audits(tmp_path: Path, signum: signal.Signals) -> None:
    with fake(tmp_path, "prometheus", "rules-pending") as server:
        spec, out = tree(tmp_path)
        process = subprocess.Popen(command(spec, out, tmp_path / "audit.jsonl", server), cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not (server.reloads == 1 and ("GET", "/api/v1/rules") in server.requests):
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.1)
            assert any(p.suffix == ".yml" for p in server.path.iterdir()), "verifying the written files"
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1
    assert_rolled_back(server, tmp_path / "audit.jsonl", stderr, f"interrupted by {signum.name}")


@dataclass
class ExplodingTarget:
    """A file target whose reload raises ``error`` (an exception deploy does not expect) the
    first ``times`` times: the exception itself, not a DeployError."""

    directory: Path
    error: Exception
    times: int
    name: str = "exploding"
    adopt: frozenset[str] = frozenset()
    reloads: list[dict[str, str]] = field(default_factory=list)

    def wanted(self, out: Path) -> dict[str, str]:
        return {"new.yml": "groups: []\n"}

    def check_reachable(self) -> None:
        pass

    def reload_and_verify(self, files: dict[str, str]) -> None:
        self.reloads.append(dict(files))
        if len(self.reloads) <= self.times:
            raise self.error


@pytest.mark.parametrize("times, rolled", [
    (1, "rolled back: exploding restored (1 previous files serving)"),
    (2, "rolled back: exploding ROLLBACK FAILED: unexpected KeyError: 'lastConfigTime'"),
])
def test_an_unexpected_exception_rolls_back_and_audits(tmp_path: Path, times: int, rolled: str) -> None:
    spec, out = tree(tmp_path)
    directory = tmp_path / "target"
    files.write(directory, {"old.yml": "groups: []\n"})
    before = {p.name: p.read_text() for p in directory.iterdir()}
    target = ExplodingTarget(directory, KeyError("lastConfigTime"), times)
    audit = tmp_path / "audit.jsonl"
    progress = io.StringIO()
    deployer = Deployer(DeployRequest(load_spec(spec), out, [target], None, audit),
                        Console(file=progress), Console(file=io.StringIO()))
    assert deployer.apply(deployer.plan()) == 1
    assert {p.name: p.read_text() for p in directory.iterdir()} == before, "the files are restored before the reload"
    assert [sorted(r) for r in target.reloads] == [["new.yml"], ["old.yml"]]
    failure = f"failed: exploding: unexpected KeyError: 'lastConfigTime'; {rolled}"
    assert [json.loads(line)["result"] for line in audit.read_text().splitlines()] == [failure]
    assert progress.getvalue().strip().splitlines()[-1] == f"deploy {failure}"
