"""Which servers a deploy reaches: the command line over the spec's ``deploy`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from obstack.alerts.global_rules import ruler_rules_dir
from obstack.stack.deploy.alertmanager import AlertmanagerTarget
from obstack.stack.deploy.grafana import GrafanaTarget, read_token
from obstack.stack.deploy.http import Deadline, HttpClient, HttpSettings
from obstack.stack.deploy.prometheus import PrometheusTarget
from obstack.stack.deploy.ruler import TOKEN_ENV as RULER_TOKEN_ENV
from obstack.stack.deploy.ruler import RulerTarget
from obstack.stack.deploy.runner import FileTarget
from obstack.stack.deploy.tokens import token_from
from obstack.stack.spec.base import HttpUrl
from obstack.stack.spec.deploy import DeploySettings, RulerNamespace, TenantId
from obstack.stack.spec.model import Spec


@dataclass(frozen=True)
class TargetOptions:
    """The command line's target options (None: take the spec's value)."""

    prometheus: str | None = None
    rules_dir: Path | None = None
    alertmanager: str | None = None
    alertmanager_config: Path | None = None
    grafana: str | None = None
    grafana_token_file: Path | None = None
    ruler: str | None = None
    ruler_namespace: str | None = None
    ruler_tenant: str | None = None
    ruler_token_file: Path | None = None


@dataclass
class Targets:
    """What one deploy reaches, and the URLs its audit line names."""

    files: list[FileTarget] = field(default_factory=list)
    grafana: GrafanaTarget | None = None
    ruler: RulerTarget | None = None
    urls: dict[str, str] = field(default_factory=dict)


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


def _checked(value: str, check: object, flag: str) -> str:
    """A command-line value through the spec's own validator; ValueError (one line) when it fails."""
    try:
        return TypeAdapter(check).validate_python(value)  # type: ignore[call-overload, no-any-return]
    except ValidationError as error:
        raise ValueError(f"{flag}: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None


def ruler_target(spec: Spec, options: TargetOptions, http: HttpSettings, deadline: Deadline) -> RulerTarget | None:
    """The ruler to deploy to (None when none is given); its token from RULER_TOKEN or the token file."""
    settings = deploy_settings(spec).ruler
    url = options.ruler or settings.url
    if not url:
        if options.ruler_namespace or options.ruler_tenant or options.ruler_token_file:
            raise ValueError("--ruler-namespace, --ruler-tenant and --ruler-token-file need --ruler URL "
                             "(or deploy.ruler.url in the spec)")
        return None
    url = _checked(url, HttpUrl, "--ruler")
    namespace = _checked(options.ruler_namespace, RulerNamespace, "--ruler-namespace") if options.ruler_namespace \
        else settings.namespace or f"obstack-{spec.project}"
    tenant = _checked(options.ruler_tenant, TenantId, "--ruler-tenant") if options.ruler_tenant else settings.tenant
    token_file = options.ruler_token_file or settings.token_file
    token = token_from(RULER_TOKEN_ENV, str(token_file) if token_file else None, "ruler")
    headers = {**({"X-Scope-OrgID": tenant} if tenant else {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    client = HttpClient(url, "ruler", http, headers=headers, deadline=deadline)
    return RulerTarget(client, namespace, ruler_rules_dir(spec))


def resolve_targets(spec: Spec, options: TargetOptions, deadline: Deadline) -> Targets:
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
    ruler = ruler_target(spec, options, http, deadline)
    if ruler is not None:
        tenant = ruler.client.headers.get("X-Scope-OrgID")
        urls["ruler"] = f"{ruler.client.base_url} namespace {ruler.namespace}" + (f" tenant {tenant}" if tenant else "")
    if not targets and grafana is None and ruler is None:
        raise ValueError("nothing to deploy to: give --prometheus with --rules-dir, --alertmanager with "
                         "--alertmanager-config, --grafana and/or --ruler (or set them under deploy: in the spec)")
    return Targets(targets, grafana, ruler, urls)
