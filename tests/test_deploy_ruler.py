"""`obstack deploy --ruler` against tests/support/fake_ruler.py, a server enforcing the documented
rule-configuration API of a Mimir/Cortex ruler (no Mimir, Cortex or Thanos runs here): the groups
land one per POST, a second deploy changes nothing, stale groups of obstack's are removed and
nobody else's are touched, any failure rolls back to the namespace as it was, the token is never
shown, and bad input is one line with exit 2."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from obstack.alerts.global_rules import RULER_DIR
from obstack.alerts.rule_files import RULES_DIR
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.http import Deadline, HttpClient, HttpSettings
from obstack.stack.deploy.ruler import MANIFEST_GROUP, RulerTarget, canonical, owned_groups
from obstack.stack.deploy.runner import Deployer, DeployRequest
from obstack.stack.pipeline import generate
from obstack.stack.spec.loader import load_spec
from obstack.stack.writer import write_tree
from tests.support.fake_ruler import FakeRuler
from tests.test_deploy import REPO, SPEC

pytestmark = pytest.mark.long_running(140)  # seconds in one process: a pre-flight per CLI deploy

TOKEN = "ruler-token-5e1f0c"
TENANT = "team-shop"
NAMESPACE = "obstack-shop"
FAST = HttpSettings(timeout=3, retries=1, backoff=0.01, backoff_max=0.02)
EXTRA = "groups:\n- name: extra\n  rules:\n  - record: job:extra:one\n    expr: vector(1)\n"
MORE = EXTRA.replace("name: extra", "name: more")
HAND = {"name": "hand-written", "rules": [{"alert": "HandWritten", "expr": "vector(1) > 2", "for": "60m"}]}


def tree(tmp_path: Path, name: str, error_rate: str = "5%", extra: str | None = None,
         deploy: str = "") -> tuple[Path, Path]:
    """The shop spec (tests/test_deploy.py) and its generated tree; ``extra`` adds a rule file of one's own."""
    directory = tmp_path / name
    directory.mkdir()
    text = SPEC.replace("ERROR_RATE", error_rate).replace("DATASTORES", "")
    if extra:
        (directory / "extra.yml").write_text(extra)
        text += f"prometheus:\n  extra_rule_files: [{directory / 'extra.yml'}]\n"
    spec = directory / "shop.yaml"
    spec.write_text(text + deploy, encoding="utf-8")
    out = directory / "build"
    write_tree(out, generate(load_spec(spec)))
    return spec, out


def tree_groups(out: Path, where: Any = RULES_DIR) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for path in sorted((out / where).glob("*.yml")) for g in yaml.safe_load(path.read_text())["groups"]}


def cli(spec: Path, out: Path, audit: Path, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", **({"RULER_TOKEN": token} if token else {})}
    return subprocess.run([sys.executable, "-m", "obstack", "deploy", "--spec", str(spec), "--out", str(out),
                           "--audit-log", str(audit), *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


def ruler_args(server: FakeRuler) -> list[str]:
    return ["--ruler", server.url, "--ruler-tenant", TENANT]


def audit_lines(audit: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


def assert_no_token(result: subprocess.CompletedProcess[str], audit: Path) -> None:
    for text in (result.stdout, result.stderr, audit.read_text() if audit.exists() else ""):
        assert TOKEN not in text and "Traceback" not in text


def state(server: FakeRuler) -> dict[str, Any]:
    return copy.deepcopy(server.store)


def target(server: FakeRuler, out_dir: Any = RULES_DIR, tenant: str | None = TENANT) -> RulerTarget:
    headers = {"Authorization": f"Bearer {TOKEN}", **({"X-Scope-OrgID": tenant} if tenant else {})}
    return RulerTarget(HttpClient(server.url, "ruler", FAST, headers=headers), NAMESPACE, out_dir)


@pytest.fixture
def ruler() -> Any:
    with FakeRuler(multitenant=True, token=TOKEN) as server:
        yield server


# ---- the whole command


def test_a_deploy_posts_each_group_and_a_second_one_changes_nothing(tmp_path: Path, ruler: FakeRuler) -> None:
    spec, out = tree(tmp_path, "a")
    audit = tmp_path / "audit.jsonl"
    ruler.put("other-team", HAND, tenant=TENANT)
    ruler.put(NAMESPACE, HAND, tenant="another-tenant")
    others = copy.deepcopy((ruler.groups("other-team", TENANT), ruler.store["another-tenant"]))
    first = cli(spec, out, audit, *ruler_args(ruler))
    assert first.returncode == 0, first.stderr
    wanted = tree_groups(out)
    served = ruler.groups(NAMESPACE, TENANT)
    assert set(served) == {*wanted, MANIFEST_GROUP}
    assert all(canonical(served[name]) == canonical(group) for name, group in wanted.items())
    assert owned_groups(served[MANIFEST_GROUP], NAMESPACE) == set(wanted)
    posts = [(m, p, h) for m, p, h in ruler.requests if m == "POST"]
    assert {p for _, p, _ in posts} == {f"/prometheus/config/v1/rules/{NAMESPACE}"}
    assert len(posts) == len(wanted) + 2  # the manifest before (claiming the new groups) and after
    assert all(h == {"X-Scope-OrgID": TENANT, "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/yaml"}
               for _, _, h in posts)
    assert (ruler.groups("other-team", TENANT), ruler.store["another-tenant"]) == others
    [line] = audit_lines(audit)
    assert line["result"] == "ok"
    assert line["targets"] == {"ruler": f"{ruler.url} namespace {NAMESPACE} tenant {TENANT}"}
    assert sorted(line["changed"]["ruler"]) == sorted([f"created group {n}" for n in wanted] + [f"created group {MANIFEST_GROUP}"])
    writes = len(ruler.writes())
    second = cli(spec, out, audit, *ruler_args(ruler))
    assert second.returncode == 0 and "nothing to do: ruler" in second.stderr, second.stderr
    assert len(ruler.writes()) == writes
    assert audit_lines(audit)[-1]["result"] == "nothing to do"
    assert_no_token(first, audit)
    assert_no_token(second, audit)


def test_dry_run_shows_the_groups_and_writes_nothing(tmp_path: Path, ruler: FakeRuler) -> None:
    spec, out = tree(tmp_path, "a")
    result = cli(spec, out, tmp_path / "audit.jsonl", *ruler_args(ruler), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "+++ b/ruler/group service-alerts" in result.stdout and "+- alert: HighErrorRate" in result.stdout
    assert ruler.writes() == [] and not (tmp_path / "audit.jsonl").exists()


def test_stale_groups_of_obstack_go_and_nobody_elses_are_touched(tmp_path: Path, ruler: FakeRuler) -> None:
    spec_a, out_a = tree(tmp_path, "a", extra=EXTRA)
    audit = tmp_path / "audit.jsonl"
    assert cli(spec_a, out_a, audit, *ruler_args(ruler)).returncode == 0
    assert "extra" in ruler.groups(NAMESPACE, TENANT)
    ruler.put(NAMESPACE, HAND, tenant=TENANT)  # someone adds a group of their own to obstack's namespace
    spec_b, out_b = tree(tmp_path, "b", error_rate="10%")
    result = cli(spec_b, out_b, audit, *ruler_args(ruler))
    assert result.returncode == 0, result.stderr
    served = ruler.groups(NAMESPACE, TENANT)
    assert "extra" not in served and "hand-written" in served
    assert canonical(served["hand-written"]["rules"]) == canonical(HAND["rules"])
    assert owned_groups(served[MANIFEST_GROUP], NAMESPACE) == set(tree_groups(out_b))
    changed = audit_lines(audit)[-1]["changed"]["ruler"]
    assert "removed group extra" in changed and "updated group service-alerts" in changed
    assert not any("hand-written" in c for c in changed)
    assert ("DELETE", f"/prometheus/config/v1/rules/{NAMESPACE}/extra") in ruler.writes()


def test_a_foreign_group_with_a_generated_name_is_refused_before_any_write(tmp_path: Path, ruler: FakeRuler) -> None:
    spec, out = tree(tmp_path, "a")
    ruler.put(NAMESPACE, {**HAND, "name": "stack-alerts"}, tenant=TENANT)
    before = state(ruler)
    result = cli(spec, out, tmp_path / "audit.jsonl", *ruler_args(ruler))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"deploy failed: ruler namespace {NAMESPACE}: group 'stack-alerts' exists and was not written by obstack; "
        "deploy never replaces other groups: rename or move it; nothing changed")
    assert ruler.writes() == [] and state(ruler) == before


def test_a_sharded_spec_sends_the_ruler_only_the_rules_the_shards_cannot_evaluate(tmp_path: Path, ruler: FakeRuler) -> None:
    spec, out = tree(tmp_path, "a", deploy="kubernetes:\n  prometheus:\n    shards: 3\n")
    result = cli(spec, out, tmp_path / "audit.jsonl", *ruler_args(ruler))
    assert result.returncode == 0, result.stderr
    served = ruler.groups(NAMESPACE, TENANT)
    assert set(served) == {*tree_groups(out, RULER_DIR), MANIFEST_GROUP}
    alerts = {r.get("alert") for g in served.values() for r in g["rules"]}
    assert {"ServiceDown", "ScrapeJobMissing"} <= alerts and not {"RequestMetricsMissing", "Watchdog"} & alerts


# ---- rollback (the runner in-process: one pre-flight-free deploy per fault)


def deployer(tmp_path: Path, spec: Path, out: Path, server: FakeRuler, rules_dir: Any = RULES_DIR) -> tuple[Deployer, io.StringIO]:
    progress = io.StringIO()
    request = DeployRequest(load_spec(spec), out, [], None, tmp_path / "audit.jsonl", ruler=target(server, rules_dir),
                            target_urls={"ruler": server.url}, deadline=Deadline(30))
    return Deployer(request, Console(file=progress, width=400), Console(file=io.StringIO())), progress


def deployed(tmp_path: Path, server: FakeRuler) -> tuple[Path, Path]:
    """A namespace obstack deployed tree a into (with the extra group), plus someone's group beside it."""
    spec_a, out_a = tree(tmp_path, "a", extra=EXTRA)
    first, _ = deployer(tmp_path, spec_a, out_a, server)
    assert first.apply(first.plan()) == 0
    server.put(NAMESPACE, HAND, tenant=TENANT)
    return tree(tmp_path, "b", error_rate="10%")


def group_posts(plan: Any) -> int:
    return sum(1 for change in plan.ruler_changes if change.body is not None)


@pytest.mark.parametrize(("method", "route", "skip", "status", "failure", "restored"), [
    # the first group's POST, and its retry (it may have landed: put back too)
    ("POST", f"/{NAMESPACE}", lambda plan: 0, 500,
     f"ruler: saving group service-alerts: POST /config/v1/rules/{NAMESPACE} answered 500: injected failure "
     "(after 2 attempts)", "1 group"),
    # the manifest, written last: every group was saved and is put back
    ("POST", f"/{NAMESPACE}", lambda plan: group_posts(plan) - 1, 500,
     f"ruler: saving group {MANIFEST_GROUP}: POST /config/v1/rules/{NAMESPACE} answered 500: injected failure "
     "(after 2 attempts)", "3 groups"),
    # removing the stale group is refused
    ("DELETE", f"/{NAMESPACE}/", lambda plan: 0, 403, "ruler refused removing group extra (403 Forbidden): injected failure",
     "2 groups"),
    # the read-back after all writes (the first GET is the snapshot)
    ("GET", f"/{NAMESPACE}", lambda plan: 1, 500,
     f"ruler: GET /config/v1/rules/{NAMESPACE} answered 500: injected failure (after 2 attempts)", "3 groups"),
])
def test_a_failure_midway_puts_the_namespace_back_as_it_was(tmp_path: Path, ruler: FakeRuler, method: str, route: str,
                                                            skip: Any, status: int, failure: str, restored: str) -> None:
    spec_b, out_b = deployed(tmp_path, ruler)
    before = state(ruler)
    second, progress = deployer(tmp_path, spec_b, out_b, ruler)
    plan = second.plan()
    assert [(c.group, c.state) for c in plan.ruler_changes] == [("service-alerts", "updated"), ("extra", "removed"),
                                                  (MANIFEST_GROUP, "updated")]
    ruler.fail(method, route, status=status, skip=skip(plan), times=2)
    assert second.apply(plan) == 1
    assert state(ruler) == before, "every group and the manifest are as before"
    last = progress.getvalue().strip().splitlines()[-1]
    assert last == f"deploy failed: {failure}; rolled back: ruler restored ({restored} of namespace {NAMESPACE})"
    [_, line] = audit_lines(tmp_path / "audit.jsonl")
    assert line["result"] == "failed: " + last.removeprefix("deploy failed: ")


def test_the_tenant_group_limit_refusing_a_new_group_rolls_back(tmp_path: Path) -> None:
    with FakeRuler(multitenant=True, token=TOKEN, max_groups=7) as server:
        deployed(tmp_path, server)  # 4 generated groups, extra and the manifest; hand-written beside them: 7
        before = state(server)
        spec_c, out_c = tree(tmp_path, "c", extra=MORE)  # "more" replaces "extra": created before extra is removed
        third, progress = deployer(tmp_path, spec_c, out_c, server)
        assert third.apply(third.plan()) == 1
        assert state(server) == before
        last = progress.getvalue().strip().splitlines()[-1]
        assert last.startswith("deploy failed: ruler: saving group more answered 400: per-user rule groups "
                               "limit (limit: 7 actual: 8) exceeded; rolled back: ruler restored ("), last


def test_a_slow_ruler_fails_the_request_within_its_timeout_and_rolls_back(tmp_path: Path, ruler: FakeRuler) -> None:
    spec_b, out_b = deployed(tmp_path, ruler)
    before = state(ruler)
    second, progress = deployer(tmp_path, spec_b, out_b, ruler)
    plan = second.plan()
    ruler.slow("POST", f"/{NAMESPACE}", seconds=FAST.timeout + 1.5, times=FAST.retries + 1)
    assert second.apply(plan) == 1
    assert state(ruler) == before
    assert "timed out" in progress.getvalue() and "rolled back: ruler restored" in progress.getvalue()


def test_a_failing_restore_says_so_in_the_same_line(tmp_path: Path, ruler: FakeRuler) -> None:
    spec_b, out_b = deployed(tmp_path, ruler)
    second, progress = deployer(tmp_path, spec_b, out_b, ruler)
    plan = second.plan()
    ruler.fail("POST", f"/{NAMESPACE}", skip=1, times=None)  # the manifest POST and every one after, restores included
    assert second.apply(plan) == 1
    last = progress.getvalue().strip().splitlines()[-1]
    assert last.endswith(f"; rolled back: ruler ROLLBACK FAILED: ruler: restoring group {MANIFEST_GROUP}: POST "
                         f"/config/v1/rules/{NAMESPACE} answered 500: injected failure (after 2 attempts) "
                         "(3 of 3 groups not restored)"), last


# ---- the API client


def test_read_back_compares_durations_by_value_and_finds_what_differs(tmp_path: Path, ruler: FakeRuler) -> None:
    client = target(ruler)
    group = {"name": "g", "interval": "60s", "rules": [{"alert": "A", "expr": "vector(1) > 2", "for": "90m",
                                                         "labels": {}, "annotations": {"summary": "s"}}]}
    client.send(group)
    stored = ruler.groups(NAMESPACE, TENANT)["g"]
    assert stored["interval"] == "1m" and stored["rules"][0]["for"] == "1h30m" and "labels" not in stored["rules"][0]
    client.verify({"g": group}, "after saving,")
    ruler.store[TENANT][NAMESPACE]["g"]["rules"][0]["expr"] = "vector(1) > 3"
    with pytest.raises(DeployError, match=r"after saving, group g of namespace obstack-shop rules\[0\].expr: served "
                                          r"'vector\(1\) > 3', wrote 'vector\(1\) > 2'"):
        client.verify({"g": group}, "after saving,")


def test_an_empty_namespace_and_a_wrong_prefix_are_told_apart(tmp_path: Path) -> None:
    with FakeRuler(legacy_empty_404=True) as old_mimir:
        assert target(old_mimir, tenant=None).read_namespace() == {}  # 404 "no rule groups found": empty
        wrong = RulerTarget(HttpClient(old_mimir.url.removesuffix("/prometheus"), "ruler", FAST), NAMESPACE, RULES_DIR)
        with pytest.raises(DeployError, match=r"answered 404 \(404 page not found\): give --ruler the ruler's "
                                              r"Prometheus prefix, e.g. http://mimir:8080/prometheus"):
            wrong.check_reachable()


def test_a_hand_made_manifest_group_is_refused(tmp_path: Path, ruler: FakeRuler) -> None:
    ruler.put(NAMESPACE, {"name": MANIFEST_GROUP, "rules": [{"record": "x", "expr": "vector(1)"}]}, tenant=TENANT)
    with pytest.raises(DeployError, match=f"group {MANIFEST_GROUP} was not written by obstack"):
        target(ruler).plan({})


# ---- the fake enforces the contract (so that passing against it means something)


def raw(server: FakeRuler, method: str, path: str, body: str = "", content_type: str = "application/yaml",
        tenant: str | None = TENANT, token: str = TOKEN) -> tuple[int, str]:
    import requests
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}", **({"X-Scope-OrgID": tenant} if tenant else {})}
    response = requests.request(method, server.url + "/config/v1/rules" + path, data=body.encode(), headers=headers, timeout=30)
    return response.status_code, response.text.strip()


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"body": "name: g\nrules:\n- record: a:b\n  expr: vector(1)\n"}, (202, '{"status": "success", "data": null, '
                                                                          '"errorType": "", "error": ""}')),
    ({"body": "name: g\nrules:\n- record: a:b\n  expr: vector(1)\n", "content_type": "application/json"},
     (415, "unsupported Content-Type 'application/json': expected application/yaml")),
    ({"body": EXTRA}, (400, "invalid rules configuration: rule group name must not be empty")),
    ({"body": "- name: a\n  rules: []\n"}, (400, "unable to decode rule group")),
    ({"body": "name: g\nrules: []\n"}, (400, "invalid rules configuration: rule group 'g' has no rules")),
    ({"body": "name: g\nrules:\n- record: a:b\n  expr: sum(\n"}, (400, None)),
    ({"body": "name: g\nrules:\n- record: a:b\n  expr: vector(1)\n  for: 5m\n"},
     (400, "group 'g', rule 1: invalid field 'for' in recording rule")),
    ({"body": "name: g\nrules:\n- alert: A\n  expr: vector(1)\n  labels: {severity: 1}\n"},
     (400, "group 'g', rule 1: labels: must map strings to strings")),
    ({"body": "name: g\nrules:\n- alert: A\n  expr: vector(1)\n", "tenant": None}, (401, "no org id")),
    ({"body": "name: g\nrules:\n- alert: A\n  expr: vector(1)\n", "token": "wrong"}, (401, "unauthorized")),
])
def test_the_fake_ruler_enforces_the_documented_contract(ruler: FakeRuler, kwargs: dict[str, Any],
                                                          expected: tuple[int, str | None]) -> None:
    code, text = raw(ruler, "POST", f"/{NAMESPACE}", **kwargs)
    assert code == expected[0]
    if expected[1] is not None:
        assert text == expected[1]
    else:
        assert text.startswith("group 'g', rule 1: could not parse expression")


def test_the_fake_ruler_runs_promtool_and_answers_404_for_unknown_groups(ruler: FakeRuler) -> None:
    # Well-formed to the fake's own checks, refused by promtool: an annotation template that does not parse.
    code, text = raw(ruler, "POST", f"/{NAMESPACE}", "name: g\nrules:\n- alert: A\n  expr: vector(1)\n"
                                                     "  annotations: {summary: '{{ $labels.job '}\n")
    assert (code, text.split(":")[0]) == (400, "promtool check rules")
    assert raw(ruler, "GET", f"/{NAMESPACE}/nope") == (404, "group does not exist")
    assert raw(ruler, "DELETE", f"/{NAMESPACE}/nope") == (404, "group does not exist")
    assert raw(ruler, "GET", f"/{NAMESPACE}") == (200, "{}")


# ---- bad input


@pytest.mark.parametrize(("args", "env_token", "message"), [
    (["--ruler-namespace", "x"], None, "--ruler-namespace, --ruler-tenant and --ruler-token-file need --ruler URL "
                                       "(or deploy.ruler.url in the spec)"),
    (["--ruler", "mimir:8080"], None, "--ruler: 'mimir:8080' is not an http(s) URL"),
    (["--ruler", f"http://user:{TOKEN}@mimir/prometheus"], None,
     "--ruler: must not carry credentials in the URL (user:password@);"),
    (["--ruler", "http://mimir/prometheus", "--ruler-tenant", "a|b"], None,
     "--ruler-tenant: 'a|b' is not a ruler tenant ID (X-Scope-OrgID): use at most 150 letters, digits or ! - _ . * ' ( )"),
    (["--ruler", "http://mimir/prometheus", "--ruler-namespace", "my ns"], None,
     "--ruler-namespace: 'my ns' is not a ruler namespace: use 1-255 characters without spaces or control characters"),
    (["--ruler", "http://mimir/prometheus", "--ruler-token-file", "/nonexistent/token"], None,
     "/nonexistent/token: cannot read the ruler token file: No such file or directory"),
    (["--ruler", "http://mimir/prometheus"], f"{TOKEN} x", "RULER_TOKEN: the ruler token must be one line of visible "
                                                          "characters, without spaces"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], env_token: str | None, message: str) -> None:
    spec, out = tree(tmp_path, "a")
    result = cli(spec, out, tmp_path / "audit.jsonl", *args, token=env_token)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert TOKEN not in result.stderr + result.stdout and not (tmp_path / "audit.jsonl").exists()


def test_a_wrong_token_is_refused_before_any_write_and_never_shown(tmp_path: Path, ruler: FakeRuler) -> None:
    spec, out = tree(tmp_path, "a")
    token_file = tmp_path / "token"
    token_file.write_text("wrong-" + TOKEN + "\n")
    audit = tmp_path / "audit.jsonl"
    result = cli(spec, out, audit, *ruler_args(ruler), "--ruler-token-file", str(token_file), token=None)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "deploy failed: ruler rejected the request (401 Unauthorized) while reading namespace obstack-shop")
    assert ruler.writes() == []
    assert "wrong-" + TOKEN not in result.stderr + result.stdout + audit.read_text()
    assert_no_token(result, audit)


def test_a_bad_ruler_section_in_the_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    spec, out = tree(tmp_path, "a")
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.read_text() + "deploy:\n  ruler:\n    url: http://mimir/prometheus\n    tenant: 'a b'\n")
    result = cli(bad, out, tmp_path / "audit.jsonl")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{bad}:{len(bad.read_text().splitlines())}: deploy.ruler.tenant: 'a b' is not a ruler tenant ID (X-Scope-OrgID): use at most 150 letters, "
        "digits or ! - _ . * ' ( )"]
