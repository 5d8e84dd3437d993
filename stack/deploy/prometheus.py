"""Deploying rule files to Prometheus: write them into the directory it loads, reload, verify.

Verification is what Prometheus says, not what we wrote: ``/api/v1/status/runtimeinfo`` must
report ``reloadConfigSuccess`` with a ``lastConfigTime`` newer than before the reload, and
``/api/v1/rules`` must list every generated group with every rule, each evaluated with health
``ok`` (a rule that never evaluated is not yet proven, so we wait for its first evaluation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obstack.alerts.rule_files import RULES_DIR
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.files import tree_files
from obstack.stack.deploy.http import HttpClient, answer_field, body_excerpt

# Group identity as Prometheus reports it: (rule file name, group name) -> rule names in order.
ExpectedGroups = dict[tuple[str, str], list[str]]
POLL_SECONDS = 0.25


def expected_groups(files: dict[str, str]) -> ExpectedGroups:
    expected: ExpectedGroups = {}
    for name, text in files.items():
        document = yaml.safe_load(text) or {}
        for group in document.get("groups") or []:
            rules = [rule.get("alert") or rule.get("record") for rule in group.get("rules") or []]
            expected[(PurePosixPath(name).name, group["name"])] = rules
    return expected


def _config_time(info: dict[str, Any]) -> datetime:
    text = answer_field(info, "prometheus runtimeinfo", "lastConfigTime", kind=str)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DeployError(f"prometheus runtimeinfo: lastConfigTime {text[:40]!r} is not a time") from None


def _reload_success(info: dict[str, Any]) -> bool:
    return bool(answer_field(info, "prometheus runtimeinfo", "reloadConfigSuccess", kind=bool))


@dataclass
class PrometheusTarget:
    client: HttpClient
    directory: Path  # the rules directory Prometheus loads
    verify_timeout: float = 60.0
    name: str = "prometheus"
    adopt: frozenset[str] = frozenset()  # nothing: the rules directory is shared with other files

    def wanted(self, out: Path) -> dict[str, str]:
        return tree_files(out, RULES_DIR)

    def check_reachable(self) -> None:
        self.runtimeinfo()

    def runtimeinfo(self) -> dict[str, Any]:
        answer = self.client.json("GET", "/api/v1/status/runtimeinfo")
        return answer_field(answer, "prometheus runtimeinfo", "data", kind=dict)

    def reload(self) -> None:
        # A 500 here is Prometheus refusing the new files, not a transient error: never retried.
        response = self.client.request("POST", "/-/reload", retry_server_errors=False)
        if response.status_code != 200:
            raise DeployError(f"prometheus rejected the reload ({response.status_code}): {body_excerpt(response)}")

    def reload_and_verify(self, files: dict[str, str]) -> None:
        before = _config_time(self.runtimeinfo())
        self.reload()
        info = self.runtimeinfo()
        if _reload_success(info) and _config_time(info) <= before:
            # lastConfigTime has one-second resolution: a reload within the second of the
            # previous one looks old. Reloading again a second later is harmless and tells.
            time.sleep(1.1)
            self.reload()
            info = self.runtimeinfo()
        if not _reload_success(info):
            raise DeployError("prometheus reports reloadConfigSuccess false after the reload (see its log)")
        if _config_time(info) <= before:
            raise DeployError(f"prometheus lastConfigTime did not advance past {before.isoformat()}: the reload did not happen")
        self.wait_serving(expected_groups(files))

    def wait_serving(self, expected: ExpectedGroups) -> None:
        """Every expected group and rule served; wait for first evaluations, fail fast on errors."""
        deadline = time.monotonic() + self.verify_timeout
        while True:
            pending = self._check_rules(expected)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise DeployError(f"prometheus: {len(pending)} rules not evaluated within {self.verify_timeout:g}s, "
                                  f"e.g. {pending[0]}")
            time.sleep(POLL_SECONDS)

    def _check_rules(self, expected: ExpectedGroups) -> list[str]:
        """Rules not yet evaluated; DeployError for a missing group or rule, or a failing rule."""
        groups = answer_field(self.client.json("GET", "/api/v1/rules"), "prometheus rules", "data", "groups", kind=list)
        served = {(PurePosixPath(answer_field(g, "prometheus rules", "file", kind=str)).name,
                   answer_field(g, "prometheus rules", "name", kind=str)): answer_field(g, "prometheus rules", "rules", kind=list)
                  for g in groups}
        pending = []
        for (file, group), names in sorted(expected.items()):
            rules = served.get((file, group))
            if rules is None:
                raise DeployError(f"prometheus does not serve rule group {group!r} of {file} "
                                  "(does its rule_files glob cover the rules directory?)")
            served_names = [answer_field(r, f"prometheus rules of group {group!r}", "name", kind=str) for r in rules]
            if served_names != names:
                missing = sorted(set(names) - set(served_names)) or names
                raise DeployError(f"prometheus serves group {group!r} of {file} without the generated rules, e.g. {missing[0]}")
            for rule in rules:
                answer_field(rule, f"prometheus rules of group {group!r}", "health", kind=str)
                if rule["health"] == "err":
                    raise DeployError(f"prometheus: rule {rule['name']} in group {group!r} fails: {rule.get('lastError', '')}")
                if rule["health"] != "ok":
                    pending.append(f"{group}/{rule['name']}")
        return pending
