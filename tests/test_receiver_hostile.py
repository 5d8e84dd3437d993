"""`obstack receiver` against broken and hostile senders, as the real command in a subprocess:
bad Content-Length, oversized and deeply nested bodies, NaN/Infinity, fields forging lines.
Every request is answered, nothing is recorded for a refused one and the process keeps serving."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obstack.stack.receiver import MAX_BODY, MAX_DEPTH
from tests.test_receiver import PAYLOAD, post, started_receiver

Receiver = tuple[str, subprocess.Popen[str], Path]


@pytest.fixture
def running_receiver(tmp_path: Path) -> Iterator[Receiver]:
    with started_receiver(tmp_path) as receiver:
        yield receiver


def raw_request(url: str, head: str, body: bytes = b"", send_body_in_background: bool = False) -> tuple[int, dict[str, Any]]:
    """Send ``head`` (the request line and headers, without the blank line) and ``body`` as is;
    the status and JSON body of the answer. A body sent in the background may be cut off by the
    server (that is the point): errors sending it are ignored."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")

        def send_body() -> None:
            try:
                sock.sendall(body)
            except OSError:
                pass

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        if not send_body_in_background:
            sender.join()
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
            head_end = answer.find(b"\r\n\r\n")
            if head_end >= 0:
                length = int(next(line.split(b":")[1] for line in answer[:head_end].split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                if len(answer) >= head_end + 4 + length:
                    break
    assert answer, "the receiver closed the connection without answering"
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer[answer.index(b"\r\n\r\n") + 4:])


def assert_still_serving_and_nothing_recorded(receiver: Receiver) -> None:
    url, process, record = receiver
    assert process.poll() is None
    assert post(f"{url}/pager", json.dumps(PAYLOAD).encode()) == (200, {"status": "received"})
    assert len(record.read_text().splitlines()) == 1, "only the valid notification is recorded"


def post_head(length: str | None) -> str:
    header = "" if length is None else f"\r\nContent-Length: {length}"
    return f"POST /pager HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json{header}"


def test_a_negative_content_length_with_a_50mb_body_is_refused_unread(running_receiver: Receiver) -> None:
    body = json.dumps({**PAYLOAD, "commonAnnotations": {"summary": "x" * (50 * 1024 * 1024)}}).encode()
    status, answer = raw_request(running_receiver[0], post_head("-1"), body, send_body_in_background=True)
    assert status == 400 and "Content-Length must be a non-negative decimal number" in answer["error"]
    assert_still_serving_and_nothing_recorded(running_receiver)


@pytest.mark.parametrize("length, status, reason", [
    ("abc", 400, "Content-Length must be a non-negative decimal number, got 'abc'"),
    ("+12", 400, "Content-Length must be a non-negative decimal number, got '+12'"),
    (None, 411, "Content-Length required"),
    (str(50 * 1024 * 1024), 413, f"payload too large: 52428800 bytes, the limit is {MAX_BODY} bytes"),
])
def test_a_bad_or_too_large_content_length_is_answered_never_a_traceback(
        running_receiver: Receiver, length: str | None, status: int, reason: str) -> None:
    body = json.dumps(PAYLOAD).encode()
    assert raw_request(running_receiver[0], post_head(length), body, send_body_in_background=True) == \
        (status, {"error": reason})
    assert_still_serving_and_nothing_recorded(running_receiver)
    running_receiver[1].terminate()
    _, err = running_receiver[1].communicate(timeout=10)
    assert "Traceback" not in err and f"refused request on /pager: {reason}" in err


def test_a_chunked_body_is_refused(running_receiver: Receiver) -> None:
    head = "POST /pager HTTP/1.1\r\nHost: receiver\r\nTransfer-Encoding: chunked"
    status, answer = raw_request(running_receiver[0], head, b"2\r\n{}\r\n0\r\n\r\n")
    assert status == 411 and "send a Content-Length" in answer["error"]
    assert_still_serving_and_nothing_recorded(running_receiver)


@pytest.mark.parametrize("depth", [100_000, MAX_DEPTH + 1])
def test_deeply_nested_json_is_refused(running_receiver: Receiver, depth: int) -> None:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"][0]["extra"] = "NEST"
    body = json.dumps(payload).replace('"NEST"', "[" * depth + "]" * depth).encode()
    status, answer = post(f"{running_receiver[0]}/pager", body)
    assert status == 400 and answer["problems"] == [f"payload: nested deeper than {MAX_DEPTH} levels"]
    assert_still_serving_and_nothing_recorded(running_receiver)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_never_reach_the_record(running_receiver: Receiver, constant: str) -> None:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"][0]["value"] = "CONSTANT"
    body = json.dumps(payload).replace('"CONSTANT"', constant).encode()
    status, answer = post(f"{running_receiver[0]}/pager", body)
    assert status == 400 and answer["problems"] == [f"payload: {constant} is not JSON"]
    assert_still_serving_and_nothing_recorded(running_receiver)
    listed = urllib.request.urlopen(f"{running_receiver[0]}/notifications", timeout=5).read().decode()
    for line in [listed, *running_receiver[2].read_text().splitlines()]:
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {line[:80]}"))


def test_line_breaks_and_escapes_in_fields_cannot_forge_output_lines(running_receiver: Receiver) -> None:
    url, process, record = running_receiver
    forged = "2024-05-01T10:00:00.000Z /pager receiver=pager RESOLVED 1 alert(s): Forged"
    payload = copy.deepcopy(PAYLOAD)
    payload["groupLabels"]["service"] = f"api\n{forged}\r\x1b[2K\u2028\u0085"
    payload["receiver"] = f"pager\n{forged}"
    payload["alerts"][0]["labels"]["alertname"] = f"ServiceDown\r\n{forged}"
    assert post(f"{url}/pager", json.dumps(payload).encode()) == (200, {"status": "received"})
    head = "POST /pager\x1b[2K HTTP/1.1\r\nHost: receiver\r\nContent-Length: 2"
    assert raw_request(url, head, b"{}")[0] == 400
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert len(out.splitlines()) == 1 and "\x1b" not in out
    assert out.splitlines()[0].endswith("service=api\\n" + forged + "\\r\\u001b[2K\\u2028\\u0085")
    assert len(err.splitlines()) == 2 and "\x1b" not in err and "rejected notification on /pager\\u001b[2K: " in err
    lines = record.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["payload"] == payload
