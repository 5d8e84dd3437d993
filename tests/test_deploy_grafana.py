"""The Grafana deploy client against tests/support/fake_grafana.py (Grafana's documented API;
not a live Grafana), plus the HTTP layer's retries, and Grafana's rollback: alone, and after
real Prometheus processes (tests/test_deploy.py's fixtures) in one deploy."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from obstack.foundation.artifacts import Artifact
from obstack.stack.deploy.diff import dashboard_text
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.grafana import GrafanaChange, GrafanaTarget, mismatch, read_token
from obstack.stack.deploy.grafana_rollback import take_snapshot
from obstack.stack.deploy.http import HttpClient, HttpSettings
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.writer import write_tree
from tests.support.fake_grafana import FakeGrafana
from tests.support.monitoring import PrometheusServer, RejectingProxy
from tests.test_deploy import audit_lines, deploy, prometheus, prometheus_args, snapshot_dir  # noqa: F401 (a fixture)
from tests.test_deploy import tree as spec_tree

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
    from obstack.stack.deploy.diff import unified_diff
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


def test_a_title_taken_in_the_folder_is_refused_before_any_write_and_412s_are_explained(
        tmp_path: Path, grafana: FakeGrafana) -> None:
    grafana.folders["obstack"] = {"id": 1, "uid": "obstack", "title": "obstack"}
    grafana.dashboards["hand-made"] = {"dashboard": {"uid": "hand-made", "title": "API", "id": 3, "version": 4},
                                       "folderUid": "obstack"}
    # With overwrite, Grafana before 11.3 would save over "hand-made" (taking its uid): refused up front.
    with pytest.raises(DeployError, match=r"another dashboard \(hand-made\) has the title 'API' in folder obstack"):
        deploy_tree(target(grafana), tree(tmp_path))
    assert grafana.writes() == [] and grafana.dashboards["hand-made"]["dashboard"]["version"] == 4
    clash = GrafanaChange("dashboard", "api", "api.json", "created", "", "", {
        "dashboard": {"uid": "api", "title": "API"}, "folderUid": "obstack", "overwrite": False, "message": "m"})
    with pytest.raises(DeployError, match=r"another dashboard with this title exists in the folder \(412 name-exists\)"):
        target(grafana).apply([clash])
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
    help_text = subprocess.run([sys.executable, "-m", "obstack", "deploy", "--help"], capture_output=True, text=True,
                               cwd=REPO, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}).stdout
    options = {word.strip(".,;:") for word in help_text.split() if word.startswith("--grafana")}
    assert options == {"--grafana", "--grafana-token-file"}


def run_deploy(tmp_path: Path, grafana: FakeGrafana, env_token: str | None) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "build"
    write_tree(out, generate(load_spec()))
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", **({"GRAFANA_TOKEN": env_token} if env_token else {})}
    return subprocess.run([sys.executable, "-m", "obstack", "deploy", "--out", str(out), "--grafana", grafana.url,
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


# ---- rollback


def call(server: FakeGrafana, method: str, path: str, body: Any = None) -> Any:
    """One API call straight into the fake (setting a scene; not recorded as a request)."""
    code, answer = server.handle(method, path, f"Bearer {server.token}", body)
    assert code == 200, answer
    return answer


def seed(server: FakeGrafana) -> None:
    """A Grafana in use: obstack's Prometheus datasource with other settings and a secret, another
    datasource as the default, and the API dashboard edited by hand in the General folder."""
    call(server, "POST", "/api/datasources", {"name": "Loki", "type": "loki", "uid": "loki", "url": "http://loki:3100",
                                              "access": "proxy", "isDefault": True})
    call(server, "POST", "/api/datasources", {
        "name": "Prometheus", "type": "prometheus", "uid": "obstack-prometheus", "url": "http://old:9090",
        "access": "proxy", "basicAuth": True, "basicAuthUser": "reader", "jsonData": {"httpMethod": "GET"},
        "secureJsonData": {"basicAuthPassword": "s3cret"}})
    call(server, "POST", "/api/dashboards/db", {"dashboard": {"uid": "api", "title": "API", "panels": [{"type": "text"}]},
                                                "folderUid": "", "overwrite": False, "message": "by hand"})


def grafana_state(server: FakeGrafana) -> dict[str, Any]:
    """Everything a user sees, as the diff compares it (dashboards without id and version)."""
    return copy.deepcopy({
        "folders": {uid: f["title"] for uid, f in server.folders.items()},
        "dashboards": {uid: (dashboard_text(d["dashboard"]), d["folderUid"]) for uid, d in server.dashboards.items()},
        "datasources": {uid: {k: v for k, v in s.items() if k != "version"} for uid, s in server.datasources.items()},
        "secrets": server.secrets})


@pytest.mark.parametrize(("method", "route", "skip", "status", "summary"), [
    ("POST", "/api/dashboards/db", 1, 500, "2 dashboards, 2 folders"),  # part-way: the second dashboard
    ("PUT", "/api/datasources/uid/", 0, 500, "2 dashboards, 2 datasources, 2 folders"),  # may have landed
    ("PUT", "/api/datasources/uid/", 0, 403, "2 dashboards, 2 folders"),  # refused: nothing of it to restore
    ("POST", "/api/datasources", 0, 500, "2 dashboards, 3 datasources, 2 folders"),  # the very last write
])
def test_a_failed_grafana_write_is_rolled_back_to_exactly_what_grafana_had(
        tmp_path: Path, grafana: FakeGrafana, method: str, route: str, skip: int, status: int, summary: str) -> None:
    seed(grafana)
    before = grafana_state(grafana)
    client = target(grafana)
    changes = client.plan(*client.wanted(tree(tmp_path)), message="obstack deploy of test")
    assert [(c.kind, c.uid, c.state) for c in changes] == [
        ("folder", "obstack", "created"), ("folder", "queues", "created"), ("dashboard", "api", "updated"),
        ("dashboard", "jobs", "created"), ("datasource", "obstack-prometheus", "updated"),
        ("datasource", "obstack-alertmanager", "created")]
    undo = take_snapshot(client, changes)
    grafana.fail(method, route, status=status, skip=skip, times=FAST.retries + 1)
    with pytest.raises(DeployError, match="answered 500|403 Forbidden"):
        undo.apply(client, changes)
    assert grafana_state(grafana) != before
    assert undo.restore(client, "obstack rollback of test") == summary
    assert grafana_state(grafana) == before  # the API dashboard back in General with its content, jobs gone
    restored = grafana.dashboards["api"]
    assert restored["dashboard"]["version"] > 2 and restored["message"] == "obstack rollback of test"  # history grows
    assert grafana.datasources["loki"]["isDefault"] is True and grafana.secrets["obstack-prometheus"] == {
        "basicAuthPassword": "s3cret"}
    deletes = [path for verb, path in grafana.writes() if verb == "DELETE"]  # newest first: folders last
    assert deletes[-3:] == ["/api/dashboards/uid/jobs", "/api/folders/queues?forceDeleteRules=false",
                            "/api/folders/obstack?forceDeleteRules=false"]


def test_a_created_folder_someone_filled_meanwhile_is_left_in_place(tmp_path: Path, grafana: FakeGrafana) -> None:
    client = target(grafana)
    changes = client.plan(*client.wanted(tree(tmp_path)), message="m")
    undo = take_snapshot(client, changes)
    grafana.fail("POST", "/api/datasources", times=FAST.retries + 1)
    with pytest.raises(DeployError):
        undo.apply(client, changes)
    call(grafana, "POST", "/api/dashboards/db", {"dashboard": {"uid": "theirs", "title": "Theirs"}, "folderUid": "queues"})
    assert undo.restore(client, "m") == "2 dashboards, 1 datasource, 1 folder; 1 folder left in place: not empty"
    assert set(grafana.folders) == {"queues"} and set(grafana.dashboards) == {"theirs"} and grafana.datasources == {}


def test_a_failing_restore_goes_on_with_the_rest_and_says_what_it_could_not_restore(
        tmp_path: Path, grafana: FakeGrafana) -> None:
    seed(grafana)
    client = target(grafana)
    changes = client.plan(*client.wanted(tree(tmp_path)), message="m")
    undo = take_snapshot(client, changes)
    grafana.fail("POST", "/api/datasources", times=FAST.retries + 1)
    grafana.fail("DELETE", "/api/dashboards/uid/", status=403, message="Access denied")
    with pytest.raises(DeployError):
        undo.apply(client, changes)
    with pytest.raises(DeployError) as failed:
        undo.restore(client, "m")
    assert str(failed.value) == ("grafana token lacks permission (403 Forbidden) for restoring dashboard "
                                 "grafana/dashboards/queues/jobs.json: give its service account the Editor role "
                                 "(Admin for datasources) (1 of 7 objects not restored)")
    assert grafana.dashboards["api"]["folderUid"] == "" and grafana.datasources["loki"]["isDefault"] is True
    assert set(grafana.folders) == {"queues"}  # still holds jobs, which could not be deleted


def test_read_back_compares_as_the_diff_does_and_checks_the_folder() -> None:
    saved = {"dashboard": {"uid": "a", "title": "A", "id": 1, "version": 3}, "meta": {"folderUid": "f"}}
    assert mismatch("dashboard", saved, {"dashboard": {"uid": "a", "title": "A", "id": 9, "version": 7},
                                         "meta": {"folderUid": "f"}}) is None
    assert mismatch("dashboard", saved, {"dashboard": {"uid": "a", "title": "B"}, "meta": {"folderUid": "f"}}) == \
        "has other content"
    assert mismatch("dashboard", saved, {"dashboard": {"uid": "a", "title": "A"}, "meta": {}}) == "is in folder '', not 'f'"
    assert mismatch("dashboard", None, saved) == "still exists" and mismatch("folder", saved, None) == "is missing"
    assert mismatch("datasource", {"uid": "p", "url": "http://a", "version": 3, "secureJsonFields": {}},
                    {"uid": "p", "url": "http://b", "version": 4}) == "differs in url"


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines[-1].startswith("deploy failed: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def assert_no_token(token: str, result: subprocess.CompletedProcess[str], audit: Path) -> None:
    for text in (result.stdout, result.stderr, audit.read_text()):
        assert token not in text


def rule_texts(server: PrometheusServer) -> dict[str, str]:
    return {name: text for name, (text, _) in snapshot_dir(server.rules_dir).items()}


def test_a_grafana_failure_rolls_back_grafana_and_prometheus_before_it(
        tmp_path: Path, prometheus: PrometheusServer, grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", grafana.token)
    spec_a, out_a = spec_tree(tmp_path, "a")
    audit = tmp_path / "audit.jsonl"
    assert deploy(spec_a, out_a, audit, *prometheus_args(prometheus)).returncode == 0
    seed(grafana)
    host = json.loads((out_a / "grafana/dashboards/obstack/shop-host.json").read_text())
    call(grafana, "POST", "/api/dashboards/db", {"dashboard": {**host, "title": "Host (old)"}, "folderUid": ""})
    before = rule_texts(prometheus), grafana_state(grafana)
    spec_b, out_b = spec_tree(tmp_path, "b", error_rate="10%")
    grafana.fail("POST", "/api/datasources", skip=2, times=4)  # the last datasource, after every dashboard
    result = deploy(spec_b, out_b, audit, *prometheus_args(prometheus), "--grafana", grafana.url)
    line = failure_line(result)
    assert line.startswith('deploy failed: grafana: saving datasource Elasticsearch: POST /api/datasources answered 500: '
                           '{"message": "injected failure"} (after 4 attempts); rolled back: ')
    served = len(list(prometheus.rules_dir.glob("*.yml")))
    assert line.endswith("; rolled back: grafana restored (3 dashboards, 5 datasources, 1 folder), "
                         f"prometheus restored ({served} previous files serving)")
    assert (rule_texts(prometheus), grafana_state(grafana)) == before
    assert audit_lines(audit)[-1]["result"] == "failed: " + line.removeprefix("deploy failed: ")
    assert_no_token(grafana.token, result, audit)


def test_a_prometheus_failure_rolls_back_before_grafana_is_touched(
        tmp_path: Path, prometheus: PrometheusServer, grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus is applied first: when its reload is rejected, Grafana has not been written."""
    monkeypatch.setenv("GRAFANA_TOKEN", grafana.token)
    spec, out = spec_tree(tmp_path, "a")
    seed(grafana)
    before = grafana_state(grafana)
    with RejectingProxy(prometheus.url, reject=1) as proxy:
        result = deploy(spec, out, tmp_path / "audit.jsonl", *prometheus_args(prometheus, proxy.url),
                        "--grafana", grafana.url)
    line = failure_line(result)
    assert "prometheus rejected the reload (500)" in line
    assert line.endswith("; rolled back: prometheus restored (0 previous files serving)")  # it had none of ours
    assert grafana.writes() == [] and grafana_state(grafana) == before


def test_a_failed_grafana_rollback_is_one_line_and_exit_1(tmp_path: Path) -> None:
    token = "editor-token-7f3a9c"
    with FakeGrafana(token=token) as server:
        server.fail("POST", "/api/dashboards/db", skip=1, times=4)
        server.fail("DELETE", "/api/dashboards/uid/", status=403, message="Access denied")
        result = run_deploy(tmp_path, server, token)
    line = failure_line(result)
    assert "; rolled back: grafana ROLLBACK FAILED: grafana token lacks permission (403 Forbidden) for restoring " \
           "dashboard grafana/dashboards/" in line
    assert line.endswith("(2 of 3 objects not restored)")  # two dashboards; their folder is left, not empty
    assert audit_lines(tmp_path / "audit.jsonl")[-1]["result"] == "failed: " + line.removeprefix("deploy failed: ")
    assert_no_token(token, result, tmp_path / "audit.jsonl")
