"""`obstack drill` through a real Alertmanager 0.25 running the generated config into a running
`obstack receiver`: every route delivers to its receiver; a dead receiver is reported."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from obstack.stack.drill import drill_cases
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec_text
from tests.support.monitoring import AlertmanagerServer
from tests.support.servers import free_port

REPO = Path(__file__).parent.parent

SPEC = """
project: shop
team: platform
services:
  - name: api
    team: payments
    targets: [api:8080]
    slos: []
  - name: indexer
    team: search
    targets: [indexer:8080]
    slos: []
notifications:
  receivers:
    - {name: payments, type: webhook, url: "RECEIVER/payments"}
    - {name: pager, type: webhook, url: "RECEIVER/pager"}
    - {name: chat, type: webhook, url: "RECEIVER/chat"}
    - {name: search, type: webhook, url: "DEAD/search"}
  routes:
    - {severity: critical, team: payments, receiver: payments}
    - {severity: critical, receiver: pager}
    - {severity: warning, receiver: chat}
    - {team: search, receiver: search}
  default_receiver: chat
  group_wait: 1s
  group_interval: 1s
"""


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    record = tmp_path / "received.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "obstack", "receiver", "--listen", f"127.0.0.1:{port}",
                                "--record", str(record)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/-/healthy", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    try:
        yield url, record
    finally:
        process.terminate()
        process.wait(timeout=10)


def spec_text(receiver_url: str) -> str:
    # A port nothing listens on: Alertmanager's webhook to it can never succeed.
    return SPEC.replace("RECEIVER", receiver_url).replace("DEAD", f"http://127.0.0.1:{free_port()}")


def test_every_route_delivers_to_its_receiver_and_a_dead_one_is_reported(
        tmp_path: Path, receiver: tuple[str, Path]) -> None:
    receiver_url, record = receiver
    text = spec_text(receiver_url)
    spec_file = tmp_path / "stack.yaml"
    spec_file.write_text(text)
    artifacts = {a.path.as_posix(): a.content for a in generate(load_spec_text(text, str(spec_file)))}
    with AlertmanagerServer(artifacts["alertmanager/alertmanager.yml"]) as alertmanager:
        (alertmanager.config_dir / "templates").mkdir()
        (alertmanager.config_dir / "templates/obstack.tmpl").write_text(artifacts["alertmanager/templates/obstack.tmpl"])
        urllib.request.urlopen(urllib.request.Request(f"{alertmanager.url}/-/reload", method="POST"), timeout=5).close()
        result = subprocess.run(
            [sys.executable, "-m", "obstack", "drill", "--spec", str(spec_file), "--alertmanager", alertmanager.url,
             "--receiver", receiver_url, "--timeout", "12"],
            capture_output=True, text=True, timeout=120, cwd=REPO)
        resolved = json.loads(urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts?active=true", timeout=5).read())
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 4}
    assert "delivered" in rows['severity="critical" team="payments"'] and "payments" in rows['severity="critical" team="payments"']
    assert "delivered" in rows['severity="critical"'] and "pager" in rows['severity="critical"']
    assert "delivered" in rows['severity="warning"'] and "chat" in rows['severity="warning"']
    assert "delivered" in rows["fallback (no route matches)"]
    assert "not delivered within 12s" in rows['team="search"']
    assert "4 of 5 routes delivered" in result.stdout
    assert all(row.rstrip("│ ").endswith("s") for name, row in rows.items() if name != 'team="search"')
    # Recorded by the receiver, each through the receiver its route names, and resolved afterwards.
    received = {(e["payload"]["receiver"], e["path"]) for e in map(json.loads, record.read_text().splitlines())}
    assert {("payments", "/payments"), ("pager", "/pager"), ("chat", "/chat")} <= received
    assert not [a for a in resolved if a["labels"].get("drill") == "true"]


def test_drill_cases_cover_each_route_with_labels_that_reach_it() -> None:
    spec = load_spec_text(spec_text("http://127.0.0.1:9"), "t.yaml").spec
    cases, problems = drill_cases(spec, "run")
    assert problems == []
    assert [(c.receiver, c.labels["severity"], c.labels["team"]) for c in cases] == [
        ("payments", "critical", "payments"), ("pager", "critical", "platform"), ("chat", "warning", "platform"),
        ("search", "info", "search"), ("chat", "info", "obstack-drill")]
    assert all(c.labels["drill"] == "true" for c in cases)
    assert len({c.labels["instance"] for c in cases}) == len(cases)


def test_a_route_no_alert_can_reach_is_reported() -> None:
    text = spec_text("http://127.0.0.1:9").replace(
        "    - {team: search, receiver: search}", "    - {team: search, receiver: search}\n    - {severity: warning, team: search, receiver: pager}")
    cases, problems = drill_cases(load_spec_text(text, "t.yaml").spec, "run")
    assert len(problems) == 1 and "an earlier route takes every alert it matches" in problems[0]
