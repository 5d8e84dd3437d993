"""Compose lint: what `docker-compose config` accepts but breaks a stack at start or leaks a secret.

One function per rule, each ``(ComposeInput) -> list[Finding]``, with a stable id, a one-line doc
and a severity in ``LINT_RULES`` (a ``foundation.lint.LintRules``); a finding carries the compose
service, which exclusions match on. The validator in stack/validate/compose_checks.py runs them
all on the generated file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from obstack.compose.build import COMPOSE_FILE
from obstack.foundation.findings import Finding
from obstack.foundation.lint import LintRule, LintRules


VALIDATOR = "compose lint"

LINT_RULES = LintRules(VALIDATOR, (
    LintRule("healthy-dependency-without-healthcheck",
             "A service waits for another to be healthy, but that one has no healthcheck."),
    LintRule("healthcheck-tool-missing", "A healthcheck calls a tool its image does not ship."),
    LintRule("unpinned-image", "An image without a pinned release (no tag, latest, or set by a variable)."),
    LintRule("port-published-twice", "Two services publish one host port."),
    LintRule("inline-secret", "A literal secret (or a URL with a password) in an environment variable or command."),
    LintRule("mount-not-generated",
             "A relative mount the generator did not write, one leaving the tree, or a writable host path."),
    LintRule("undocumented-variable", "A ${VARIABLE} the file reads is not in .env.example."),
), scopes=("service",))


@dataclass(frozen=True)
class ComposeInput:
    document: dict[str, Any]  # the compose file as loaded
    compose_dir: str  # the compose file's directory, relative to the generated tree ("compose")
    generated: frozenset[str] = frozenset()  # every generated file, relative to the tree
    documented_variables: frozenset[str] = frozenset()  # names set in .env.example
    image_tools: dict[str, frozenset[str]] = field(default_factory=dict)  # repository -> executables inside

    @property
    def file(self) -> str:
        return posixpath.join(self.compose_dir, COMPOSE_FILE.name)

    def services(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, service in sorted((self.document.get("services") or {}).items()):
            if isinstance(service, dict):
                yield name, service


# Names under which people keep credentials; a literal value under such a name is a leak.
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|DSN)", re.IGNORECASE)
# user:password@ inside a URL, unless the password is an interpolation.
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:(?!\$\{)[^/\s@]+@")
# ${NAME...} interpolations; $${NAME} is an escaped dollar the container's shell expands.
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _finding(data: ComposeInput, rule: str, service: str, message: str) -> Finding:
    return LINT_RULES.finding(rule, data.file, f"services.{service}", message, service=service)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (entry.split("=", 1) for entry in environment if isinstance(entry, str))
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {str(k): "" if v is None else str(v) for k, v in environment.items()}


def _has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


def healthy_dependency_without_healthcheck(data: ComposeInput) -> list[Finding]:
    """`condition: service_healthy` on a service that has no healthcheck never becomes true."""
    services = dict(data.services())
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if not isinstance(depends, dict):
            continue
        for dependency, condition in sorted(depends.items()):
            wants_healthy = isinstance(condition, dict) and condition.get("condition") == "service_healthy"
            if wants_healthy and not _has_healthcheck(services.get(dependency, {})):
                problems.append(_finding(data, "healthy-dependency-without-healthcheck", name,
                                            f"waits for '{dependency}' to be healthy, but '{dependency}' has no healthcheck"))
    return problems


def _repository(image: str) -> str:
    image = image.split("@", 1)[0]
    name, _, tag = image.rpartition(":")
    return name if name and "/" not in tag else image


def _healthcheck_executables(test: Any) -> list[str]:
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or len(test) < 2:
        return []
    if test[0] == "CMD":
        return [str(test[1])]
    if test[0] == "CMD-SHELL":
        words = str(test[1]).split()
        return ["sh", *(words[:1])]  # the shell itself, and the command it starts
    return []


def healthcheck_tool_missing(data: ComposeInput) -> list[Finding]:
    """A healthcheck calling a tool the image does not ship fails forever (e.g. curl in a busybox image)."""
    problems = []
    for name, service in data.services():
        tools = data.image_tools.get(_repository(str(service.get("image", ""))))
        if tools is None or not _has_healthcheck(service):
            continue  # an image obstack does not know: nothing to check against
        for executable in _healthcheck_executables(service["healthcheck"].get("test")):
            if posixpath.basename(executable) not in tools:
                problems.append(_finding(data, "healthcheck-tool-missing", name,
                                            f"healthcheck runs '{executable}', which image {service['image']} does not ship"))
    return problems


def unpinned_image(data: ComposeInput) -> list[Finding]:
    """A moving or missing tag makes two deploys of one file run different software."""
    problems = []
    for name, service in data.services():
        image = service.get("image")
        if image is None:
            continue
        image = str(image)
        if "@sha256:" in image:
            continue
        name_part, _, tag = image.rpartition(":")
        if "${" in image:
            reason = "is set by a variable, so its version cannot be checked"
        elif not name_part or "/" in tag:
            reason = "has no tag"
        elif tag == "latest":
            reason = "uses the moving tag 'latest'"
        else:
            continue
        problems.append(_finding(data, "unpinned-image", name, f"image {image} {reason}; pin a release"))
    return problems


def _published(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(host address, host port, protocol) of each published port."""
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                yield str(port.get("host_ip") or "0.0.0.0"), str(port["published"]), str(port.get("protocol") or "tcp")
            continue
        text, _, protocol = str(port).partition("/")
        parts = text.rsplit(":", 2)
        if len(parts) == 3:
            yield parts[0] or "0.0.0.0", parts[1], protocol or "tcp"
        elif len(parts) == 2:
            yield "0.0.0.0", parts[0], protocol or "tcp"


def port_published_twice(data: ComposeInput) -> list[Finding]:
    """Two publications of one host port: the second container fails to start."""
    seen: dict[tuple[str, str], list[tuple[str, str]]] = {}
    problems = []
    for name, service in data.services():
        for address, port, protocol in _published(service):
            for other_address, other in seen.get((port, protocol), []):
                if "0.0.0.0" in (address, other_address) or address == other_address:
                    problems.append(_finding(data, "port-published-twice", name,
                                                f"host port {address}:{port}/{protocol} is already published by '{other}'"))
            seen.setdefault((port, protocol), []).append((address, name))
    return problems


def _literal(value: str) -> bool:
    """A value written into the file (not a ${VARIABLE}, not a path to a secret file)."""
    stripped = value.strip()
    return bool(stripped) and not stripped.startswith("${") and not stripped.startswith("/")


def inline_secret(data: ComposeInput) -> list[Finding]:
    """Secrets belong in .env or compose secrets; the message never repeats the value."""
    problems = []
    for name, service in data.services():
        for key, value in sorted(_environment(service).items()):
            if _SECRET_NAME.search(key) and not key.endswith("_FILE") and _literal(value):
                problems.append(_finding(data, "inline-secret", name, f"environment {key} holds a literal secret; use ${{{key}}} from .env"))
            elif _URL_CREDENTIALS.search(value):
                problems.append(_finding(data, "inline-secret", name, f"environment {key} holds a URL with a password"))
        command = service.get("command") or []
        for argument in command if isinstance(command, list) else [command]:
            if _URL_CREDENTIALS.search(str(argument)):
                problems.append(_finding(data, "inline-secret", name, "command holds a URL with a password"))
    return problems


def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(host path, container path, read-only) of each bind mount; named volumes are not files."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                yield str(volume.get("source")), str(volume.get("target")), bool(volume.get("read_only"))
            continue
        parts = str(volume).split(":")
        if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
            yield parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")


def mount_not_generated(data: ComposeInput) -> list[Finding]:
    """A relative mount must name a file or directory the generator wrote: Docker would otherwise
    create an empty directory in its place and the service would start without its configuration."""
    directories = {posixpath.dirname(path) for path in data.generated}
    directories |= {d for path in directories for d in _parents(path)}
    problems = []
    for name, service in data.services():
        for source, _, read_only in bind_mounts(service):
            if source.startswith(("/", "~")):
                if not read_only:
                    problems.append(_finding(data, "mount-not-generated", name, f"host path {source} is mounted writable"))
                continue
            inside = posixpath.normpath(posixpath.join(data.compose_dir, source))
            if inside.startswith(".."):
                problems.append(_finding(data, "mount-not-generated", name, f"mount {source} is outside the generated tree"))
            elif inside not in data.generated and inside not in directories:
                problems.append(_finding(data, "mount-not-generated", name, f"mount {source} ({inside}) was not generated"))
    return problems


def _parents(path: str) -> Iterator[str]:
    while path not in ("", "."):
        yield path
        path = posixpath.dirname(path)


def undocumented_variable(data: ComposeInput) -> list[Finding]:
    """Every ${VARIABLE} the file reads is documented in .env.example, so a user knows to set it."""
    problems = []
    for name, service in data.services():
        used = sorted(set(_VARIABLE.findall(repr(service))))
        for variable in used:
            if variable not in data.documented_variables:
                problems.append(_finding(data, "undocumented-variable", name, f"${{{variable}}} is not in .env.example"))
    return problems


RULES: tuple[Callable[[ComposeInput], list[Finding]], ...] = (
    healthy_dependency_without_healthcheck,
    healthcheck_tool_missing,
    unpinned_image,
    port_published_twice,
    inline_secret,
    mount_not_generated,
    undocumented_variable,
)


def lint_compose(data: ComposeInput) -> list[Finding]:
    return [problem for rule in RULES for problem in rule(data)]
