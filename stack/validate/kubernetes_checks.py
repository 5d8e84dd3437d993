"""Validators of kubernetes/*.yaml: core kinds against kubernetes-validate's offline schemas (and our
kustomization check), prometheus-operator kinds against obstack's own structural check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any


from obstack.compose.k8s_common import KUBERNETES_DIR
from obstack.compose.operator_shapes import SHAPES, operator_object_problems
from obstack.foundation.artifacts import load_yaml_all
from obstack.foundation.findings import Finding
from obstack.stack.validate.validator import ValidationContext, ValidatorResult

OPERATOR_GROUP = "monitoring.coreos.com/"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io/"
# A ConfigMap holds at most 1 MiB; kubectl's client-side apply copies it into a 256 KiB annotation.
CONFIG_MAP_LIMIT = 1024 * 1024
CLIENT_APPLY_LIMIT = 256 * 1024


def _documents(out: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for path in sorted((out / KUBERNETES_DIR).glob("*.yaml")):
        relative = path.relative_to(out).as_posix()
        for index, document in enumerate(load_yaml_all(path.read_text(encoding="utf-8"))):
            if isinstance(document, dict):
                yield relative, index, document


def _where(index: int, document: dict[str, Any]) -> str:
    name = (document.get("metadata") or {}).get("name", "?")
    return f"document {index} ({document.get('kind', '?')}/{name})"


def _kustomization_problems(out: Path, file: str, document: dict[str, Any], namespace: str) -> list[str]:
    problems = []
    directory = (out / file).parent
    for resource in document.get("resources") or []:
        if not (directory / resource).is_file():
            problems.append(f"resources: {resource} does not exist next to {Path(file).name}")
    if document.get("namespace") != namespace:
        problems.append(f"namespace: {document.get('namespace')!r} is not the spec's {namespace!r}")
    return problems


def _config_map_size(document: dict[str, Any]) -> tuple[str, str] | None:
    if document.get("kind") != "ConfigMap":
        return None
    size = sum(len(str(value).encode()) for value in (document.get("data") or {}).values())
    if size > CONFIG_MAP_LIMIT:
        return "error", f"data is {size} bytes; a ConfigMap holds at most {CONFIG_MAP_LIMIT}"
    if size > CLIENT_APPLY_LIMIT:
        return "warning", f"data is {size} bytes; apply it with `kubectl apply --server-side` (client-side apply stops at 256 KiB)"
    return None


def kubernetes_core_validator(context: ValidationContext) -> ValidatorResult:
    """Deployments, Services, ConfigMaps and Secrets against kubernetes-validate's schemas (strict: unknown keys fail)."""
    result = ValidatorResult("kubernetes schemas")
    try:
        import kubernetes_validate
        from kubernetes_validate import utils as kv_utils
    except ImportError:
        result.tool_missing = True
        result.findings.append(Finding(result.name, "error", KUBERNETES_DIR.as_posix(), "",
                                       "the Python package 'kubernetes-validate' is not installed (pip install kubernetes-validate)"))
        return result
    settings = context.loaded.spec.kubernetes
    checked = 0
    for file, index, document in _documents(context.out):
        api_version = str(document.get("apiVersion", ""))
        if api_version.startswith(OPERATOR_GROUP):
            continue  # prometheus-operator kinds: see prometheus_operator_validator
        checked += 1
        if api_version.startswith(KUSTOMIZE_GROUP):
            for problem in _kustomization_problems(context.out, file, document, settings.namespace):
                result.findings.append(Finding(result.name, "error", file, _where(index, document), problem))
            continue
        try:
            kubernetes_validate.validate(document, settings.version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path) or "(object)"
            result.findings.append(Finding(result.name, "error", file, _where(index, document), f"{path}: {error.message}"))
        except (kv_utils.SchemaNotFoundError, kv_utils.VersionNotSupportedError) as error:
            result.findings.append(Finding(result.name, "error", file, _where(index, document), error.message))
        size = _config_map_size(document)
        if size is not None:
            result.findings.append(Finding(result.name, size[0], file, _where(index, document), size[1]))  # type: ignore[arg-type]
    if not result.findings:
        result.summary = f"{checked} objects valid for Kubernetes {settings.version}"
    return result


def prometheus_operator_validator(context: ValidationContext) -> ValidatorResult:
    """PrometheusRule and ServiceMonitor objects against obstack's structural check of the operator CRDs."""
    result = ValidatorResult("prometheus-operator objects")
    checked = 0
    for file, index, document in _documents(context.out):
        if not str(document.get("apiVersion", "")).startswith(OPERATOR_GROUP):
            continue
        checked += 1
        for problem in operator_object_problems(document):
            result.findings.append(Finding(result.name, "error", file, _where(index, document), problem))
    if not result.findings:
        result.summary = f"{checked} objects ({', '.join(sorted(SHAPES))}) match the operator's shapes"
    return result
