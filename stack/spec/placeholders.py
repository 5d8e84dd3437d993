"""Spec warnings: defaults that are placeholders, usable but almost certainly not what a team means.

Every alert links its runbook and every notification its dashboard; left at the defaults they
point at ``runbooks.example.com`` and ``localhost:3000``, which no on-call engineer can open.
`obstack generate` prints these, `obstack validate` reports them as warning findings, and
`obstack generate --strict` refuses the spec (exit 2).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .model import Spec
from .positions import YamlPath

PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net")


def placeholder_warnings(spec: Spec) -> list[tuple[YamlPath, str]]:
    """(yaml path, message) for each link that only works on a placeholder or the author's machine."""
    warnings = []
    runbook_host = urlsplit(spec.runbook_url).hostname or ""
    if any(runbook_host == host or runbook_host.endswith("." + host) for host in PLACEHOLDER_HOSTS):
        warnings.append((("runbook_url",), f"every alert links a runbook on the placeholder host {runbook_host}; "
                                          "set runbook_url to where your runbooks live"))
    grafana_host = urlsplit(spec.grafana.url).hostname or ""
    if grafana_host in ("localhost", "127.0.0.1", "::1"):
        warnings.append((("grafana", "url"), f"dashboard links in alerts point at {spec.grafana.url}, which opens only "
                                            "on the machine running Grafana; set grafana.url to the address people use"))
    return warnings
