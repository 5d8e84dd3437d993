"""`obstack exporter`: the thin CLI command starts the exporter, logs JSON, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: demo\n")
    return subprocess.Popen([sys.executable, "-m", "obstack", "exporter", "--spec", str(spec),
                             "--listen", "127.0.0.1:0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_exporter_command_serves_and_stops(tmp_path):
    process = _start(tmp_path)
    try:
        record = json.loads(process.stderr.readline())
        assert record["event"] == "listening" and record["address"].startswith("127.0.0.1:")
        url = f"http://{record['address']}"
        with urllib.request.urlopen(url + "/livez", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            assert b"# TYPE obstack_postgres_up gauge" in response.read()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_sigterm_right_after_listening_is_a_clean_stop(tmp_path):
    """A supervisor may stop the exporter the moment it announces itself: still exit 0, "stopped" logged."""
    for _ in range(5):
        process = _start(tmp_path)
        assert json.loads(process.stderr.readline())["event"] == "listening"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        events = [json.loads(line)["event"] for line in process.stderr.read().splitlines() if line.strip()]
        assert events[-1] == "stopped"


def test_exporter_command_refuses_a_bad_web_config(tmp_path):
    config = tmp_path / "web.yml"
    config.write_text("basic_auth_users:\n  admin: not-a-hash\n")
    process = _start(tmp_path, "--web-config", str(config))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "bcrypt" in stderr
