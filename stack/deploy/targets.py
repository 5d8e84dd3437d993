"""Which servers a deploy reaches: the command line over the spec's ``deploy`` section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack.deploy.alertmanager import AlertmanagerTarget
from stack.deploy.grafana import GrafanaTarget, read_token
from stack.deploy.http import Deadline, HttpClient, HttpSettings
from stack.deploy.prometheus import PrometheusTarget
from stack.deploy.runner import FileTarget
from stack.spec.deploy import DeploySettings
from stack.spec.model import Spec


@dataclass(frozen=True)
class TargetOptions:
    """The command line's target options (None: take the spec's value)."""

    prometheus: str | None = None
    rules_dir: Path | None = None
    alertmanager: str | None = None
    alertmanager_config: Path | None = None
    grafana: str | None = None
    grafana_token_file: Path | None = None


def deploy_settings(spec: Spec) -> DeploySettings:
    """The spec's deploy section."""
    return spec.deploy


def http_settings(settings: DeploySettings) -> HttpSettings:
    return HttpSettings(timeout=settings.timeouts.request.seconds, retries=settings.timeouts.retries)


def _pair(url: str | None, path: str | Path | None, url_flag: str, path_flag: str) -> tuple[str, Path] | None:
    if url and path:
        return url, Path(path)
    if url or path:
        missing = path_flag if url else url_flag
        raise ValueError(f"{url_flag if url else path_flag} needs {missing} too (or set both under deploy: in the spec)")
    return None


def deploy_deadline(settings: DeploySettings) -> Deadline:
    return Deadline(settings.timeouts.deploy.seconds)


def resolve_targets(spec: Spec, options: TargetOptions,
                    deadline: Deadline) -> tuple[list[FileTarget], GrafanaTarget | None, dict[str, str]]:
    """The targets to deploy to, their clients sharing ``deadline``; ValueError (bad input, one line)
    when they are incomplete."""
    settings = deploy_settings(spec)
    http = http_settings(settings)
    targets: list[FileTarget] = []
    urls: dict[str, str] = {}
    prometheus = _pair(options.prometheus or settings.prometheus.url, options.rules_dir or settings.prometheus.rules_dir,
                       "--prometheus", "--rules-dir")
    if prometheus:
        urls["prometheus"] = f"{prometheus[0]} {prometheus[1]}"
        targets.append(PrometheusTarget(HttpClient(prometheus[0], "prometheus", http, deadline=deadline), prometheus[1],
                                        settings.timeouts.verify.seconds))
    alertmanager = _pair(options.alertmanager or settings.alertmanager.url,
                         options.alertmanager_config or settings.alertmanager.config_path,
                         "--alertmanager", "--alertmanager-config")
    if alertmanager:
        urls["alertmanager"] = f"{alertmanager[0]} {alertmanager[1]}"
        targets.append(AlertmanagerTarget(HttpClient(alertmanager[0], "alertmanager", http, deadline=deadline), alertmanager[1]))
    if prometheus and alertmanager and prometheus[1].resolve() == alertmanager[1].parent.resolve():
        # One manifest per directory: two targets sharing one would forget each other's files.
        raise ValueError("--rules-dir and the directory of --alertmanager-config must differ")
    grafana = None
    grafana_url = options.grafana or settings.grafana.url
    if grafana_url:
        token_file = options.grafana_token_file or settings.grafana.token_file
        token = read_token(str(token_file) if token_file else None)
        client = HttpClient(grafana_url, "grafana", http, headers={"Authorization": f"Bearer {token}"},
                            deadline=deadline)
        grafana = GrafanaTarget(client, spec.grafana.folder)
        urls["grafana"] = grafana_url
    if not targets and grafana is None:
        raise ValueError("nothing to deploy to: give --prometheus with --rules-dir, --alertmanager with "
                         "--alertmanager-config and/or --grafana (or set them under deploy: in the spec)")
    return targets, grafana, urls
