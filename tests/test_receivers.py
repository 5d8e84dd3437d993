"""The receivers beyond webhook, Slack, PagerDuty and e-mail: Opsgenie, VictorOps, Webex and SNS,
secrets by file as Alertmanager 0.25 reads them; Telegram, Discord and Pushover refused, since 0.25
reads their secrets only inline (amtool 0.25 proves both sides)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from obstack.alerts.alertmanager_config import CONFIG_PATH, alertmanager_artifacts
from obstack.foundation.artifacts import with_header
from obstack.stack.spec.errors import SpecError
from obstack.stack.spec.loader import LoadedSpec, load_spec_text
from obstack.stack.validate.alertmanager_tools import amtool_config_validator, amtool_template_validator
from obstack.stack.validate.tools import run_tool
from obstack.stack.validate.validator import ValidationContext
from tests.support.rendered import rendered
from tests.support.servers import require_binary

ORDERS = Path(__file__).parent / "specs" / "orders.yaml"
SECRET_FILES = {"platform-pager": ("opsgenie_configs", "api_key_file", "/run/secrets/opsgenie_key"),
                "checkout-tickets": ("victorops_configs", "api_key_file", "/run/secrets/victorops_key")}


@pytest.fixture(autouse=True)
def _amtool() -> None:
    require_binary("amtool", "prometheus-alertmanager")


def orders() -> LoadedSpec:
    return load_spec_text(ORDERS.read_text(), str(ORDERS))


def written(tmp_path: Path, loaded: LoadedSpec) -> ValidationContext:
    for artifact in rendered(loaded.spec, alertmanager_artifacts):
        artifact = with_header(artifact, loaded.name)
        (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / artifact.path).write_text(artifact.content, encoding="utf-8")
    return ValidationContext(tmp_path, loaded, [])


def receiver(config: dict, name: str) -> dict:
    return next(r for r in config["receivers"] if r["name"] == name)


def test_each_receiver_reads_its_secret_from_a_file_and_amtool_0_25_accepts_and_renders_it(tmp_path: Path) -> None:
    context = written(tmp_path, orders())
    config = yaml.safe_load((tmp_path / CONFIG_PATH).read_text())
    for name, (kind, key, path) in SECRET_FILES.items():
        assert receiver(config, name)[kind][0][key] == path
    webex = receiver(config, "platform-room")["webex_configs"][0]
    assert webex["http_config"]["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/webex_token"}
    sns = receiver(config, "archive")["sns_configs"][0]
    assert sns["sigv4"] == {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/alertmanager"}
    assert receiver(config, "platform-pager")["opsgenie_configs"][0]["responders"] == [{"name": "platform", "type": "team"}]
    checked = amtool_config_validator(context)
    assert checked.status == "pass", [str(f) for f in checked.findings]
    rendered = amtool_template_validator(context)  # priority, message_type, subjects and bodies
    assert rendered.status == "pass", [str(f) for f in rendered.findings]


def test_priority_and_message_type_follow_severity_and_status(tmp_path: Path) -> None:
    written(tmp_path, orders())
    config = yaml.safe_load((tmp_path / CONFIG_PATH).read_text())
    priority = receiver(config, "platform-pager")["opsgenie_configs"][0]["priority"]
    message_type = receiver(config, "checkout-tickets")["victorops_configs"][0]["message_type"]
    glob = str(tmp_path / "alertmanager" / "templates" / "*.tmpl")

    def render(text: str, data: dict) -> str:
        data_file = tmp_path / "data.json"
        data_file.write_text(json.dumps(data))
        run = run_tool("amtool", ["template", "render", f"--template.glob={glob}", f"--template.text={text}",
                                  f"--template.data={data_file}"], timeout=60)
        assert run.returncode == 0, run.output
        return run.output.strip()

    def data(status: str, severity: str) -> dict:
        return {"receiver": "r", "status": status, "alerts": [], "groupLabels": {}, "commonLabels": {"severity": severity},
                "commonAnnotations": {}, "externalURL": "http://am"}

    assert [render(priority, data("firing", s)) for s in ("critical", "warning", "info")] == ["P1", "P3", "P5"]
    assert [render(message_type, data(st, s)) for st, s in (("firing", "critical"), ("firing", "warning"),
                                                              ("resolved", "critical"))] == ["CRITICAL", "WARNING", "RECOVERY"]


@pytest.mark.parametrize(("kind", "fields", "inline_only"), [
    ("telegram", "{type: telegram, chat_id: 1}", "bot_token_file"),
    ("discord", "{type: discord}", "webhook_url_file"),
    ("pushover", "{type: pushover}", "user_key_file"),
])
def test_receivers_0_25_reads_secrets_of_only_inline_are_refused(tmp_path: Path, kind: str, fields: str,
                                                                  inline_only: str) -> None:
    text = ORDERS.read_text().replace("  receivers:\n", f"  receivers:\n    - {{name: x, {fields[1:]}\n", 1)
    with pytest.raises(SpecError) as raised:
        load_spec_text(text, str(ORDERS))
    assert f"type '{kind}' is not one of" in str(raised.value) and "only inline" in str(raised.value)
    # The reason holds: amtool 0.25 knows no file field for the secret.
    config = tmp_path / "am.yml"
    config.write_text(yaml.safe_dump({"route": {"receiver": "r"},
                                      "receivers": [{"name": "r", f"{kind}_configs": [{inline_only: "/run/secrets/x"}]}]}))
    run = run_tool("amtool", ["check-config", str(config)], timeout=60)
    assert run.returncode != 0 and f"field {inline_only} not found" in run.output
