"""Bad and hostile input through the real CLI: one located line, exit 2, nothing written, no traceback.

Each file in tests/bad_specs/ is one case; the table below says on which line and YAML path the
one error line must point and a fragment of what it must say. Every case runs `obstack generate`
into an output directory holding one file of its own, which must be left exactly as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from obstack.stack.cli import app

BAD_SPECS = Path(__file__).parent / "bad_specs"
REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

# file -> (line, YAML path, fragment of the message)
CASES: dict[str, tuple[int, str, str]] = {
    # Text YAML itself refuses, or that no spec can be.
    "nul-byte.yaml": (2, "environment", "character U+0000 is not allowed in YAML text"),
    "not-utf8-line-4.yaml": (4, "environment", "byte 0xE9 is not UTF-8 text"),
    "nested-2000-deep.yaml": (1, "project[0][0][0][0][0][0][0]", "nested more than 64 levels deep"),
    "alias-bomb.yaml": (1, "(root)", "expands to more than 1,000,000 values"),
    "malformed-yaml.yaml": (4, "services[0]", "malformed YAML: mapping values are not allowed here"),
    "python-tag.yaml": (2, "environment[0]", "could not determine a constructor for the tag"),
    "duplicate-key.yaml": (2, "project", "duplicate key 'project'"),
    "not-a-mapping.yaml": (1, "(root)", "must be a mapping of keys, not a list"),
    "empty.yaml": (1, "(root)", "the spec is empty"),
    # Control characters: no spec value is multi-line.
    "control-character-bell.yaml": (2, "environment", "control character U+0007"),
    "escaped-nul.yaml": (2, "environment", "control character U+0000"),
    "line-separator.yaml": (2, "environment", "control character U+2028"),
    "kubernetes-label-newline.yaml": (4, "kubernetes.labels.release", "control character U+000A"),
    "external-label-newline.yaml": (4, "prometheus.external_labels.cluster", "control character U+000A"),
    "kubernetes-label-value-space.yaml": (3, "kubernetes.labels", "is not a Kubernetes label value"),
    "key-with-newline.yaml": (4, "kubernetes.labels.rel\\nease", "the key contains control character U+000A"),
    # Regexes reach PromQL: RE2 only, escaped, and meaning what an error regex must mean.
    "regex-promql-injection.yaml": (6, "services[0].request_metrics.error_status_regex", "must match a server error"),
    "regex-lookahead.yaml": (6, "services[0].request_metrics.error_status_regex", "uses a lookaround"),
    "regex-lookbehind.yaml": (6, "services[0].request_metrics.error_status_regex", "uses a lookaround"),
    "regex-backreference.yaml": (6, "services[0].request_metrics.error_status_regex", "uses a backreference"),
    "regex-possessive.yaml": (6, "services[0].request_metrics.error_status_regex", "uses a possessive quantifier"),
    "regex-atomic-group.yaml": (6, "services[0].request_metrics.error_status_regex", "uses an atomic group"),
    "regex-unbalanced.yaml": (6, "services[0].request_metrics.error_status_regex", "is not a valid regex"),
    "regex-matches-success.yaml": (6, "services[0].request_metrics.error_status_regex", "not a success such as '200'"),
    "regex-not-go.yaml": (6, "services[0].request_metrics.error_status_regex", "syntax Go's regexp does not accept"),
    # Go templates: Prometheus and Alertmanager render annotations and receiver fields.
    "template-in-runbook-url.yaml": (2, "runbook_url", "Go template delimiter"),
    "template-in-grafana-url.yaml": (3, "grafana.url", "Go template delimiter"),
    "template-in-environment.yaml": (2, "environment", "Go template delimiter"),
    "template-in-slack-channel.yaml": (7, "notifications.receivers[0].channel", "Go template delimiter"),
    "template-close-in-label.yaml": (4, "prometheus.external_labels.cluster", "Go template delimiter"),
    # Credentials in URLs are refused, not copied into generated files.
    "webhook-token-query.yaml": (6, "notifications.receivers[0].url", "query parameter 'token' looks like one"),
    "webhook-api-key-query.yaml": (6, "notifications.receivers[0].url", "query parameter 'api_key' looks like one"),
    "webhook-signature-query.yaml": (6, "notifications.receivers[0].url", "query parameter 'sig' looks like one"),
    "webhook-userinfo.yaml": (6, "notifications.receivers[0].url", "must not carry credentials in the URL"),
    "grafana-url-access-token.yaml": (3, "grafana.url", "query parameter 'access_token' looks like one"),
    "deploy-url-password-query.yaml": (4, "deploy.prometheus.url", "query parameter 'password' looks like one"),
    # A secret pasted where its file belongs is never echoed.
    "secret-in-url-file.yaml": (5, "datastores[0].url_file", "is not shown"),
    "secret-in-dsn-file.yaml": (5, "datastores[0].dsn_file", "is not shown"),
    "secret-in-api-url-file.yaml": (6, "notifications.receivers[0].api_url_file", "is not shown"),
    "secret-in-routing-key-file.yaml": (6, "notifications.receivers[0].routing_key_file", "is not shown"),
    "secret-in-token-file.yaml": (5, "deploy.grafana.token_file", "is not shown"),
    "secret-in-bearer-token-file.yaml": (7, "notifications.receivers[0].bearer_token_file", "is not shown"),
    "secret-in-password-file.yaml": (9, "notifications.receivers[0].auth_password_file", "is not shown"),
    "inline-dsn.yaml": (5, "datastores[0].dsn", "inline 'dsn' is not allowed"),
    # Names and values that would break out of PromQL or YAML.
    "service-name-quote.yaml": (3, "services[0].name", "is not a valid name"),
    "queue-name-brace.yaml": (7, "queues[0].name", "is not a valid queue name"),
    "label-name-reserved.yaml": (4, "prometheus.external_labels.__name__", "is not a valid Prometheus label name"),
    "metric-name-invalid.yaml": (6, "services[0].request_metrics.histogram", "is not a valid Prometheus metric name"),
    "runbook-unknown-placeholder.yaml": (2, "runbook_url", "unknown placeholder {foo}"),
    "target-with-quote.yaml": (4, "services[0].targets[0]", "is not a scrape target"),
    # Events SLOs: plain counter selectors, exactly one of errors and good, events told apart.
    "events-not-a-selector.yaml": (7, "services[0].slos[0].errors", "is a function call, not a counter selector"),
    "events-range-vector.yaml": (10, "services[0].slos[0].total", "is a range vector ([...]), not a counter selector"),
    "events-binary-expression.yaml": (9, "services[0].slos[0].good", "is an expression with an operator"),
    "events-errors-and-good.yaml": (6, "services[0].slos[0]", "needs exactly one of 'errors'"),
    "events-neither-errors-nor-good.yaml": (6, "services[0].slos[0]", "needs exactly one of 'errors'"),
    "events-job-matcher.yaml": (9, "services[0].slos[0].errors", "matches on 'job', which obstack sets itself"),
    "events-errors-select-all.yaml": (9, "services[0].slos[0].errors", "'errors' selects every series 'total' selects"),
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_bad_spec_has_a_case_and_the_corpus_is_large() -> None:
    assert sorted(p.name for p in BAD_SPECS.glob("*.yaml")) == sorted(CASES)
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_spec_is_refused_in_one_located_line(name: str, tmp_path: Path) -> None:
    line, path, fragment = CASES[name]
    spec = BAD_SPECS / name
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("not obstack's\n")
    before = tree(out)
    result = runner.invoke(app, ["generate", "--spec", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{spec}:{line}: {path}: "), lines[0]
    assert fragment in lines[0]
    assert "S3cret" not in result.stderr  # the secrets of the secret-* cases
    assert tree(out) == before


@pytest.mark.parametrize("name", ["nul-byte.yaml", "nested-2000-deep.yaml", "not-utf8-line-4.yaml"])
def test_bad_spec_in_a_separate_process_prints_no_traceback(name: str, tmp_path: Path) -> None:
    """The installed entry point, not the test runner, meets the input (recursion limits, stdio encoding)."""
    result = subprocess.run([sys.executable, "-m", "obstack", "generate", "--spec", str(BAD_SPECS / name),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("parent_of_out", ["a-file", "/proc", "/sys/kernel"])
def test_out_that_cannot_be_a_directory_is_one_line(parent_of_out: str, tmp_path: Path) -> None:
    parent = tmp_path / parent_of_out if parent_of_out == "a-file" else Path(parent_of_out)
    if parent_of_out == "a-file":
        parent.write_text("x")
    out = parent / "obstack-out"
    result = runner.invoke(app, ["generate", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith(f"{out}: --out ") and "choose another --out" in lines[0], lines
    assert not out.exists()


def test_placeholders_warn_and_strict_refuses_them(tmp_path: Path) -> None:
    warned = runner.invoke(app, ["generate", "--out", str(tmp_path / "warned")])
    assert warned.exit_code == 0
    warnings = [line for line in warned.stderr.splitlines() if line.startswith("warning: ")]
    assert [w.split(": ")[2] for w in warnings] == ["runbook_url", "grafana.url"]
    assert "runbooks.example.com" in warnings[0] and "localhost:3000" in warnings[1]
    strict = runner.invoke(app, ["generate", "--strict", "--out", str(tmp_path / "strict")])
    assert strict.exit_code == 2
    assert len(strict.stderr.splitlines()) == 2 and "(refused: --strict)" in strict.stderr
    assert not (tmp_path / "strict").exists()
    spec = tmp_path / "real.yaml"
    spec.write_text("project: shop\nrunbook_url: https://wiki.acme.io/runbooks/{alert}\n"
                    "grafana:\n  url: https://grafana.acme.io\n")
    clean = runner.invoke(app, ["generate", "--strict", "--spec", str(spec), "--out", str(tmp_path / "clean")])
    assert clean.exit_code == 0, clean.output
    assert clean.stderr == ""


def test_validate_reports_placeholders_as_warnings_and_foreign_rule_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["generate", "--out", str(out)]).exit_code == 0
    (out / "prometheus" / "rules" / "extra.yml").write_text("groups: []\n")
    result = runner.invoke(app, ["validate", "--out", str(out), "--only", "spec", "--only", "tree", "--format", "json"])
    document = json.loads(result.stdout)
    spec, tree_result = document["validators"]
    assert [(f["severity"], f["location"].split(": ")[1]) for f in spec["findings"]] == [
        ("warning", "runbook_url"), ("warning", "grafana.url")]
    assert spec["status"] == "warn"  # warnings alone: shown, failing only with --strict
    assert [(f["file"], f["severity"]) for f in tree_result["findings"]] == [("prometheus/rules/extra.yml", "error")]
    assert "Prometheus loads every rules/*.yml" in tree_result["findings"][0]["message"]
    assert result.exit_code == 1


def test_the_spec_validator_fails_on_a_tree_generated_from_another_spec(tmp_path: Path) -> None:
    out, spec = tmp_path / "out", tmp_path / "shop.yaml"
    spec.write_text("project: shop\nrunbook_url: https://wiki.acme.io/runbooks/{alert}\n"
                    "grafana:\n  url: https://grafana.acme.io\n")
    assert runner.invoke(app, ["generate", "--out", str(out)]).exit_code == 0  # the embedded spec's tree
    result = runner.invoke(app, ["validate", "--spec", str(spec), "--out", str(out), "--only", "spec", "--format", "json"])
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)["validators"][0]["findings"]
    assert finding["severity"] == "error" and finding["file"] == "alertmanager/alertmanager.yml"
    assert finding["message"].startswith("generated from obstack:default.yaml, not shop.yaml (")
    assert runner.invoke(app, ["generate", "--spec", str(spec), "--out", str(out)]).exit_code == 0
    again = runner.invoke(app, ["validate", "--spec", str(spec), "--out", str(out), "--only", "spec"])
    assert again.exit_code == 0, again.output


def test_drill_refuses_receivers_that_notify_people(tmp_path: Path) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text("project: shop\nnotifications:\n  receivers:\n"
                    "    - {name: pager, type: pagerduty, routing_key_file: /run/secrets/pd}\n"
                    "    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/ops'}\n")
    # Port 9 (discard) on loopback: the refusal must come before any request is sent.
    result = runner.invoke(app, ["drill", "--spec", str(spec), "--alertmanager", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{spec}: notifications.receivers: drill would send synthetic alerts to pager (pagerduty), which notify "
        "people; drill a spec whose receivers are webhooks, or pass --allow-real-receivers"]
