"""Deploying rule groups to a Mimir/Cortex-compatible ruler through its configuration API.

The API (Mimir's HTTP API reference, "Ruler"; Cortex serves the same under its own prefix), under
the ruler's Prometheus prefix (``--ruler`` is that URL, e.g. ``http://mimir:8080/prometheus``):

- ``GET    <prefix>/config/v1/rules/{namespace}``: the namespace's groups, YAML ``{namespace: [group]}``
  (recent Mimir answers ``{}`` for an empty namespace, older versions and Cortex 404 "no rule
  groups found");
- ``POST   <prefix>/config/v1/rules/{namespace}``: create or replace ONE group, its YAML the body,
  ``Content-Type: application/yaml``; ``202`` when stored;
- ``DELETE <prefix>/config/v1/rules/{namespace}/{group}``: ``202``; ``404`` when there is none;
- path segments percent-encoded; the tenant in ``X-Scope-OrgID`` (multi-tenant rulers).

Ownership: obstack writes into one namespace and, in it, owns only the groups listed by the
namespace's ``obstack-manifest`` group (an alerting rule that never fires, the list in an
annotation): like the manifest file of a rules directory, it lets deploy remove the groups it
wrote that are no longer generated and leave everything else alone. A group of the same name
that obstack did not write is refused, never replaced. The manifest is written first with the
groups about to be created (a deploy killed midway leaves them owned), and last as it ends.

Verification reads the namespace back and compares each group with what was sent (durations
compared by value: the ruler re-marshals ``60m`` as ``1h``). The ruler loads stored groups on
its own schedule; that they evaluate is not checked here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import requests
import yaml

from obstack.foundation.artifacts import dump_yaml
from obstack.stack.deploy.alertmanager import config_mismatch
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.files import tree_files
from obstack.stack.deploy.http import HttpClient, Raw, body_excerpt
from obstack.stack.spec.values import Duration

RULES_API = "/config/v1/rules"
TOKEN_ENV = "RULER_TOKEN"
YAML_TYPE = "application/yaml"
MANIFEST_GROUP = "obstack-manifest"
MANIFEST_ALERT = "ObstackDeployManifest"
MANIFEST_KEY = "obstack_groups"
# Group and rule fields holding durations: the ruler answers them in its own spelling.
DURATION_KEYS = frozenset({"interval", "for", "keep_firing_for", "query_offset", "evaluation_delay"})
ACCEPTED = (200, 202)  # Mimir and Cortex answer 202; 200 is taken too

Group = dict[str, Any]


def manifest_group(names: list[str]) -> Group:
    """The group recording which groups of the namespace obstack wrote."""
    return {"name": MANIFEST_GROUP, "rules": [{
        "alert": MANIFEST_ALERT, "expr": "vector(0) > 0",
        "annotations": {"summary": "Lists the rule groups obstack deploy wrote into this namespace (it replaces and "
                                   "removes only those); never fires. Do not edit.",
                        MANIFEST_KEY: json.dumps(sorted(names))}}]}


def owned_groups(manifest: Group | None, namespace: str) -> set[str]:
    """The group names a manifest group lists (none without one)."""
    if manifest is None:
        return set()
    try:
        names = json.loads(manifest["rules"][0]["annotations"][MANIFEST_KEY])
    except (KeyError, IndexError, TypeError, ValueError):
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DeployError(f"ruler namespace {namespace}: group {MANIFEST_GROUP} was not written by obstack; "
                          "remove it or deploy to another namespace (--ruler-namespace)")
    return set(names)


def canonical(value: Any, key: str = "") -> Any:
    """A group as compared: durations by value, empty fields (which the ruler omits) dropped."""
    if isinstance(value, dict):
        items = ((k, canonical(v, str(k))) for k, v in value.items())
        return {k: v for k, v in items if v not in (None, {}, [])}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if key in DURATION_KEYS and isinstance(value, str):
        try:
            return Duration.parse(value).milliseconds or None  # a zero duration is left out
        except ValueError:
            return value
    return value


def group_text(group: Group | None) -> str:
    return dump_yaml(group) if group is not None else ""


@dataclass(frozen=True)
class RulerChange:
    group: str
    state: str  # "created", "updated" or "removed"
    old: str  # the group's YAML before ("" when created)
    new: str  # after ("" when removed)
    body: Group | None  # what is sent (None: deleted)


@dataclass
class RulerTarget:
    client: HttpClient  # base URL: the ruler's Prometheus prefix; tenant and token headers set
    namespace: str
    rules_dir: PurePosixPath  # where in the tree the groups to deploy are
    name: str = "ruler"

    # ---- the tree

    def wanted(self, out: Path) -> dict[str, Group]:
        """Every group of the rule files in ``rules_dir``, by name (one namespace: names must differ)."""
        groups: dict[str, Group] = {}
        where: dict[str, str] = {}
        for relative, text in tree_files(out, self.rules_dir).items():
            try:
                document = yaml.safe_load(text) or {}
            except yaml.YAMLError as error:
                raise DeployError(f"{self.rules_dir / relative}: not YAML: {' '.join(str(error).split())[:200]}") from None
            for group in (document.get("groups") or []) if isinstance(document, dict) else []:
                name = str(group.get("name", ""))
                if name == MANIFEST_GROUP:
                    raise DeployError(f"{self.rules_dir / relative}: group name {MANIFEST_GROUP} is obstack's own "
                                      "in a ruler namespace; rename the group")
                if name in groups:
                    raise DeployError(f"{self.rules_dir / relative}: group {name!r} is also in {where[name]}; "
                                      "a ruler namespace holds one group per name: rename one")
                groups[name], where[name] = group, (self.rules_dir / relative).as_posix()
        return groups

    # ---- the API

    def path(self, group: str | None = None) -> str:
        path = f"{RULES_API}/{quote(self.namespace, safe='')}"
        return path if group is None else f"{path}/{quote(group, safe='')}"

    def _error(self, response: requests.Response, what: str) -> DeployError:
        code = response.status_code
        if code == 401:
            return DeployError(f"ruler rejected the request (401 Unauthorized) while {what}: check {TOKEN_ENV} or the "
                               "token file, and the tenant (--ruler-tenant: X-Scope-OrgID)")
        if code == 403:
            return DeployError(f"ruler refused {what} (403 Forbidden): {body_excerpt(response)}")
        return DeployError(f"ruler: {what} answered {code}: {body_excerpt(response)}")

    def read_namespace(self) -> dict[str, Group]:
        """The namespace's groups by name, as the ruler answers them."""
        what = f"reading namespace {self.namespace}"
        response = self.client.request("GET", self.path())
        if response.status_code == 404 and "no rule groups found" in response.text:
            return {}  # older Mimir and Cortex: an empty namespace is a 404 with this text
        if response.status_code == 404:
            raise DeployError(f"ruler: GET {self.path()} answered 404 ({body_excerpt(response)}): give --ruler the "
                              "ruler's Prometheus prefix, e.g. http://mimir:8080/prometheus")
        if response.status_code != 200:
            raise self._error(response, what)
        try:
            answer = yaml.safe_load(response.text) or {}
        except yaml.YAMLError:
            raise DeployError(f"ruler: {what}: the answer is not YAML: {body_excerpt(response)}") from None
        groups = answer.get(self.namespace, []) if isinstance(answer, dict) else None
        if not isinstance(groups, list) or not all(isinstance(g, dict) and "name" in g for g in groups):
            raise DeployError(f"ruler: {what}: the answer is not a map of namespaces to rule groups "
                              "(is this a Mimir/Cortex ruler?)")
        return {str(g["name"]): g for g in groups}

    def check_reachable(self) -> None:
        """One read of the namespace: the URL, the token and the tenant are right before anything is written."""
        self.read_namespace()

    def send(self, group: Group, verb: str = "saving") -> None:
        what = f"{verb} group {group['name']}"
        body = Raw(yaml.safe_dump(group, sort_keys=False, allow_unicode=True).encode("utf-8"), YAML_TYPE)
        try:
            response = self.client.request("POST", self.path(), body)
        except DeployError as error:  # unreachable, or 5xx after the retries: it may have been stored
            raise DeployError(f"ruler: {what}: {str(error).removeprefix('ruler: ')}") from None
        if response.status_code not in ACCEPTED:
            raise self._error(response, what)

    def delete(self, group: str, verb: str = "removing") -> None:
        response = self.client.request("DELETE", self.path(group))
        if response.status_code not in (*ACCEPTED, 404):  # 404: already gone
            raise self._error(response, f"{verb} group {group}")

    # ---- plan, apply, verify

    def plan(self, wanted: dict[str, Group]) -> list[RulerChange]:
        """The groups to create, update and remove, then the manifest; refuses a foreign group of a generated name."""
        current = self.read_namespace()
        manifest = current.pop(MANIFEST_GROUP, None)
        owned = owned_groups(manifest, self.namespace)
        changes = []
        for name, group in wanted.items():
            old = current.get(name)
            if old is not None and name not in owned:
                raise DeployError(f"ruler namespace {self.namespace}: group {name!r} exists and was not written by "
                                  "obstack; deploy never replaces other groups: rename or move it")
            if old is None or canonical(old) != canonical(group):
                changes.append(RulerChange(name, "updated" if old else "created", group_text(old), group_text(group), group))
        for name in sorted(owned - set(wanted)):
            if name in current:
                changes.append(RulerChange(name, "removed", group_text(current[name]), "", None))
        new_manifest = manifest_group(list(wanted))
        if manifest is None or canonical(manifest) != canonical(new_manifest):
            changes.append(RulerChange(MANIFEST_GROUP, "updated" if manifest else "created", group_text(manifest),
                                       group_text(new_manifest), new_manifest))
        return changes

    def take_snapshot(self) -> RulerUndo:
        return RulerUndo(self.read_namespace())

    def verify(self, expected: dict[str, Group | None], when: str) -> None:
        """Each named group is served as expected (None: absent)."""
        served = self.read_namespace()
        for name, group in expected.items():
            actual = served.get(name)
            if group is None:
                problem = None if actual is None else "still exists"
            elif actual is None:
                problem = "is missing"
            elif canonical(group) != canonical(actual):
                problem = config_mismatch(canonical(group), canonical(actual), "") or "has fields that were not written"
            else:
                problem = None
            if problem:
                raise DeployError(f"ruler: {when} group {name} of namespace {self.namespace} {problem}")


@dataclass
class RulerUndo:
    """The namespace as it was just before the writes, and the groups written since (a write that
    failed without an answer counts: it may have landed; restoring an unchanged group is harmless)."""

    before: dict[str, Group]
    sent: list[str] = field(default_factory=list)

    def apply(self, target: RulerTarget, changes: list[RulerChange]) -> None:
        """Manifest (with the groups about to be created), groups, manifest; then read everything back."""
        owned = owned_groups(self.before.get(MANIFEST_GROUP), target.namespace)
        final = next((c.body for c in changes if c.group == MANIFEST_GROUP), None)
        created = {c.group for c in changes if c.state == "created" and c.group != MANIFEST_GROUP}
        if created - owned:
            self._send(target, manifest_group(sorted(owned | created)))
        for change in changes:
            if change.group == MANIFEST_GROUP:
                continue
            if change.body is None:
                self.sent.append(change.group)
                target.delete(change.group)
            else:
                self._send(target, change.body)
        if final is not None:
            self._send(target, final)
        target.verify({c.group: c.body for c in changes}, "after saving,")

    def _send(self, target: RulerTarget, group: Group) -> None:
        self.sent.append(str(group["name"]))
        target.send(group)

    def restore(self, target: RulerTarget) -> str:
        """Put every written group back as it was (newest first), then verify; e.g. "3 groups of namespace
        obstack-shop". DeployError (one line) naming the first group that could not be, and how many."""
        touched = list(dict.fromkeys(reversed(self.sent)))
        problems = []
        for name in touched:
            before = self.before.get(name)
            try:
                if before is None:
                    target.delete(name, "restoring (removing)")
                else:
                    target.send(before, "restoring")
            except DeployError as error:  # one group failing must not stop the others
                problems.append(str(error))
        if problems:
            raise DeployError(f"{problems[0]} ({len(problems)} of {len(touched)} groups not restored)")
        target.verify({name: self.before.get(name) for name in touched}, "after the rollback")
        return f"{len(touched)} group{'' if len(touched) == 1 else 's'} of namespace {target.namespace}"
