"""The Grafana deploy client against tests/support/fake_grafana.py (Grafana's documented API;
not a live Grafana), plus the HTTP layer's retries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from stack.artifacts import Artifact
from stack.deploy.errors import DeployError
from stack.deploy.grafana import GrafanaChange, GrafanaTarget, read_token
from stack.deploy.http import HttpClient, HttpSettings
from stack.pipeline import generate
from stack.spec.loader import load_spec
from stack.writer import write_tree
from tests.support.fake_grafana import FakeGrafana

REPO = Path(__file__).parent.parent
FAST = HttpSettings(timeout=5, retries=2, backoff=0.01, backoff_max=0.02)
DATASOURCES = """apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    uid: obstack-prometheus
    url: http://prometheus:9090
    access: proxy
    isDefault: true
    editable: false
  - name: Alertmanager
    type: alertmanager
    uid: obstack-alertmanager
    url: http://alertmanager:9093
    access: proxy
    jsonData: {implementation: prometheus}
"""


def dashboard(uid: str, title: str, **extra: object) -> str:
    return json.dumps({"uid": uid, "title": title, "panels": [], "schemaVersion": 39, **extra}, indent=2) + "\n"


def tree(tmp_path: Path, api_title: str = "API") -> Path:
    out = tmp_path / "build"
    write_tree(out, [
        Artifact(PurePosixPath("grafana/dashboards/api.json"), dashboard("api", api_title), "dashboards"),
        Artifact(PurePosixPath("grafana/dashboards/queues/jobs.json"), dashboard("jobs", "Jobs"), "dashboards"),
        Artifact(PurePosixPath("grafana/provisioning/datasources/datasources.yml"), DATASOURCES, "grafana"),
    ])
    return out


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as server:
        yield server


def target(server: FakeGrafana, token: str = "editor-token") -> GrafanaTarget:
    client = HttpClient(server.url, "grafana", FAST, headers={"Authorization": f"Bearer {token}"})
    return GrafanaTarget(client, "obstack")


def deploy_tree(grafana_target: GrafanaTarget, out: Path) -> list[GrafanaChange]:
    grafana_target.check_reachable()
    changes = grafana_target.plan(*grafana_target.wanted(out), message="obstack deploy of test")
    grafana_target.apply(changes)
    return changes


def test_health_first_folders_before_dashboards_and_datasources_upserted(tmp_path: Path, grafana: FakeGrafana) -> None:
    grafana.datasources["obstack-prometheus"] = {"id": 7, "uid": "obstack-prometheus", "name": "Prometheus",
                                                 "type": "prometheus", "url": "http://old:9090", "access": "proxy"}
    changes = deploy_tree(target(grafana), tree(tmp_path))
    assert [(c.kind, c.uid, c.state) for c in changes] == [
        ("folder", "obstack", "created"), ("folder", "queues", "created"),
        ("dashboard", "api", "created"), ("dashboard", "jobs", "created"),
        ("datasource", "obstack-prometheus", "updated"), ("datasource", "obstack-alertmanager", "created")]
    calls = [(method, path.split("?")[0]) for method, path, _ in grafana.requests]
    assert calls[0] == ("GET", "/api/health")
    writes = [(m, p) for m, p in calls if m != "GET"]
    assert writes == [("POST", "/api/folders"), ("POST", "/api/folders"), ("POST", "/api/dashboards/db"),
                      ("POST", "/api/dashboards/db"), ("PUT", "/api/datasources/uid/obstack-prometheus"),
                      ("POST", "/api/datasources")]
    saved = [body for method, path, body in grafana.requests if path == "/api/dashboards/db"]
    assert set(saved[0]) == {"dashboard", "folderUid", "overwrite", "message"}
    assert saved[0]["overwrite"] is True and saved[0]["message"] == "obstack deploy of test"
    assert grafana.dashboards["api"]["folderUid"] == "obstack" and grafana.dashboards["jobs"]["folderUid"] == "queues"
    assert grafana.datasources["obstack-prometheus"]["url"] == "http://prometheus:9090"
    assert grafana.datasources["obstack-prometheus"]["id"] == 7  # updated in place, by uid
    assert "editable" not in grafana.datasources["obstack-alertmanager"]  # provisioning-only key not sent


def test_a_second_deploy_changes_nothing_and_the_diff_ignores_id_and_version(tmp_path: Path, grafana: FakeGrafana) -> None:
    deploy_tree(target(grafana), tree(tmp_path))
    assert grafana.dashboards["api"]["dashboard"]["version"] == 1 and "id" in grafana.dashboards["api"]["dashboard"]
    again = target(grafana)
    assert again.plan(*again.wanted(tree(tmp_path)), message="m") == []
    renamed = again.plan(*again.wanted(tree(tmp_path / "b", api_title="API overview")), message="m")
    assert [(c.kind, c.uid, c.state) for c in renamed] == [("dashboard", "api", "updated")]
    from stack.deploy.diff import unified_diff
    diff = unified_diff("api.json", renamed[0].old, renamed[0].new)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert [line.rstrip(",") for line in changed] == ['-  "title": "API"', '+  "title": "API overview"']


def test_a_wrong_token_and_a_read_only_token_get_clear_messages(tmp_path: Path, grafana: FakeGrafana) -> None:
    with pytest.raises(DeployError, match=r"grafana rejected the token \(401 Unauthorized\) while listing folders"):
        target(grafana, token="wrong").check_reachable()
    viewer = target(grafana, token="viewer-token")
    viewer.check_reachable()  # reads are allowed
    with pytest.raises(DeployError, match=r"lacks permission \(403 Forbidden\) for saving folder"):
        viewer.apply(viewer.plan(*viewer.wanted(tree(tmp_path)), message="m"))
    assert grafana.folders == {} and grafana.dashboards == {}


def test_412_name_exists_and_version_mismatch_are_explained(tmp_path: Path, grafana: FakeGrafana) -> None:
    grafana.folders["obstack"] = {"id": 1, "uid": "obstack", "title": "obstack"}
    grafana.dashboards["hand-made"] = {"dashboard": {"uid": "hand-made", "title": "API", "id": 3, "version": 4},
                                       "folderUid": "obstack"}
    with pytest.raises(DeployError, match=r"another dashboard with this title exists in the folder \(412 name-exists\)"):
        deploy_tree(target(grafana), tree(tmp_path))
    del grafana.dashboards["hand-made"]
    deploy_tree(target(grafana), tree(tmp_path))
    stale = GrafanaChange("dashboard", "api", "api.json", "updated", "", "", {
        "dashboard": {"uid": "api", "title": "API", "version": 0}, "folderUid": "obstack", "overwrite": False, "message": "m"})
    with pytest.raises(DeployError, match=r"changed in Grafana meanwhile \(412 version-mismatch\)"):
        target(grafana).apply([stale])


def test_the_token_comes_from_the_environment_or_a_file_never_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert read_token(str(token_file)) == "from-file"
    monkeypatch.setenv("GRAFANA_TOKEN", "from-env")
    assert read_token(str(token_file)) == "from-env"
    monkeypatch.delenv("GRAFANA_TOKEN")
    with pytest.raises(DeployError, match="no Grafana token: set GRAFANA_TOKEN"):
        read_token(None)
    help_text = subprocess.run([sys.executable, "-m", "stack", "deploy", "--help"], capture_output=True, text=True,
                               cwd=REPO, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    options = {word.strip(".,;:") for word in help_text.split() if word.startswith("--grafana")}
    assert options == {"--grafana", "--grafana-token-file"}


def run_deploy(tmp_path: Path, grafana: FakeGrafana, env_token: str | None) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "build"
    write_tree(out, generate(load_spec()))
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", **({"GRAFANA_TOKEN": env_token} if env_token else {})}
    return subprocess.run([sys.executable, "-m", "stack", "deploy", "--out", str(out), "--grafana", grafana.url,
                           "--audit-log", str(tmp_path / "audit.jsonl")],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


def test_the_cli_checks_health_and_token_before_anything(tmp_path: Path, grafana: FakeGrafana) -> None:
    missing = run_deploy(tmp_path, grafana, None)
    assert missing.returncode == 2 and "no Grafana token" in missing.stderr
    wrong = run_deploy(tmp_path, grafana, "wrong")
    assert wrong.returncode == 1 and "401 Unauthorized" in wrong.stderr and "nothing changed" in wrong.stderr
    good = run_deploy(tmp_path, grafana, "editor-token")
    assert good.returncode == 0, good.stderr
    assert grafana.requests[0][1] == "/api/health"
    writes = sum(1 for method, _, _ in grafana.requests if method != "GET")
    again = run_deploy(tmp_path, grafana, "editor-token")
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert sum(1 for method, _, _ in grafana.requests if method != "GET") == writes


def test_connection_errors_and_5xx_are_retried_a_bounded_number_of_times(grafana: FakeGrafana) -> None:
    client = HttpClient(grafana.url, "grafana", FAST)
    grafana.fail_next = [503, 502]
    assert client.request("GET", "/api/health").status_code == 200
    grafana.fail_next = [503] * 3
    with pytest.raises(DeployError, match=r"answered 503.*\(after 3 attempts\)"):
        client.request("GET", "/api/health")
    dead = HttpClient("http://127.0.0.1:9", "grafana", FAST)
    with pytest.raises(DeployError, match=r"cannot reach grafana at http://127.0.0.1:9/api/health: connection refused"):
        dead.request("GET", "/api/health")
