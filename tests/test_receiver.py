"""`obstack receiver`: validates Alertmanager's webhook payload (version 4), prints a line per
notification, records JSON lines; run as the real command in a subprocess."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from obstack.stack.receiver import notification_line, parse_listen, validate_payload
from tests.support.servers import free_port

# Shaped like Alertmanager 0.25's webhook message (notify/webhook.Message).
PAYLOAD: dict[str, Any] = {
    "receiver": "pager",
    "status": "firing",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "ServiceDown", "severity": "critical", "service": "api", "team": "platform"},
        "annotations": {"summary": "A service is down."},
        "startsAt": "2024-05-01T10:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": "1a30ba71cca2921f",
    }],
    "groupLabels": {"alertname": "ServiceDown", "service": "api"},
    "commonLabels": {"alertname": "ServiceDown", "severity": "critical", "service": "api", "team": "platform"},
    "commonAnnotations": {"summary": "A service is down."},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ServiceDown", service="api"}',
    "truncatedAlerts": 0,
}


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@contextmanager
def started_receiver(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """`python -m obstack receiver` on a free port, recording to a file; stopped afterwards."""
    port = free_port()
    record = tmp_path / "notifications.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "obstack", "receiver", "--listen", f"127.0.0.1:{port}", "--record", str(record)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/-/healthy", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
    try:
        yield url, process, record
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def running_receiver(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    with started_receiver(tmp_path) as receiver:
        yield receiver


def test_a_valid_payload_is_printed_recorded_and_listed(running_receiver: tuple[str, subprocess.Popen[str], Path]) -> None:
    url, process, record = running_receiver
    assert post(f"{url}/pager", json.dumps(PAYLOAD).encode()) == (200, {"status": "received"})
    listed = json.loads(urllib.request.urlopen(f"{url}/notifications", timeout=5).read())
    assert [(e["path"], e["payload"]) for e in listed] == [("/pager", PAYLOAD)]
    recorded = [json.loads(line) for line in record.read_text().splitlines()]
    assert recorded == listed
    process.terminate()
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0, "SIGTERM is a clean stop"
    line = out.strip().splitlines()[-1]
    assert "/pager receiver=pager FIRING 1 alert(s): ServiceDown service=api" in line


@pytest.mark.parametrize("change, problem", [
    (lambda p: p.update(version="3"), 'version: expected "4"'),
    (lambda p: p.pop("groupKey"), "groupKey: missing"),
    (lambda p: p.update(truncatedAlerts="0"), "truncatedAlerts: expected int"),
    (lambda p: p["alerts"][0].pop("fingerprint"), "alerts[0].fingerprint: missing"),
    (lambda p: p["alerts"][0]["labels"].update(severity=2), "alerts[0].labels: values must be strings"),
    (lambda p: p.update(status="pending"), "status: expected firing or resolved"),
    (lambda p: p.update(alerts=[]), "alerts: empty"),
])
def test_invalid_payloads_are_refused_with_the_reason(change: Any, problem: str) -> None:
    payload = copy.deepcopy(PAYLOAD)
    change(payload)
    assert any(problem in p for p in validate_payload(payload)), validate_payload(payload)


def test_the_running_receiver_answers_400_and_records_nothing_for_a_bad_payload(
        running_receiver: tuple[str, subprocess.Popen[str], Path]) -> None:
    url, process, record = running_receiver
    code, body = post(f"{url}/chat", json.dumps({**PAYLOAD, "version": "3"}).encode())
    assert code == 400 and any("version" in p for p in body["problems"])
    assert post(f"{url}/chat", b"not json")[0] == 400
    assert not record.exists() or record.read_text() == ""
    process.terminate()
    _, err = process.communicate(timeout=10)
    assert "rejected notification on /chat: version" in err


def test_the_valid_example_passes_and_the_line_marks_drills() -> None:
    assert validate_payload(PAYLOAD) == []
    drill = copy.deepcopy(PAYLOAD)
    drill["alerts"][0]["labels"]["drill"] = "true"
    assert notification_line("t", "/p", drill).endswith("[drill]")


def test_listen_addresses_and_a_busy_port_is_bad_input(running_receiver: tuple[str, subprocess.Popen[str], Path]) -> None:
    assert parse_listen("127.0.0.1:9095") == ("127.0.0.1", 9095)
    assert parse_listen(":9095") == ("0.0.0.0", 9095)
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_listen("localhost")
    url, _, _ = running_receiver
    busy = subprocess.run([sys.executable, "-m", "obstack", "receiver", "--listen", url.removeprefix("http://")],
                          capture_output=True, text=True, timeout=30, cwd=Path(__file__).parent.parent)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr and len(busy.stderr.strip().splitlines()) == 1
