"""The Alertmanager config Secret in kubernetes/alertmanager-config.yaml, checked on its own: laid out
as prometheus-operator mounts it and run through the real `amtool check-config`, and compared with
alertmanager/alertmanager.yml and alertmanager/templates/ so the two can never drift apart."""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obstack.alerts.alertmanager_config import CONFIG_PATH
from obstack.compose.k8s_alertmanager import (
    CONFIG_KEY,
    OPERATOR_CONFIG_DIR,
    OPERATOR_TEMPLATES_GLOB,
    SECRET_PATH,
    TEMPLATES_DIR,
    with_templates_glob,
)
from obstack.foundation.artifacts import Artifact, dump_yaml, load_yaml, load_yaml_all, with_header
from obstack.foundation.findings import Finding
from obstack.stack.validate.alertmanager_tools import check_config
from obstack.stack.validate.validator import ValidationContext, ValidatorResult

NAME = "alertmanager config (kubernetes)"
_SECRET = SECRET_PATH.as_posix()
_CONFIG = CONFIG_PATH.as_posix()
# Enough differences to see what was edited without flooding the table.
_MAX_DIFFERENCES = 5


class _Unreadable(ValueError):
    """The Secret or the config cannot be read; the message is the finding."""


def _secret_keys(context: ValidationContext) -> dict[str, str]:
    """The Secret's keys as the operator sees them: ``data`` decoded, ``stringData`` on top."""
    name = context.loaded.spec.kubernetes.alertmanager_config_secret
    try:
        documents = list(load_yaml_all((context.out / SECRET_PATH).read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise _Unreadable(f"not valid YAML: {error}") from error
    secret = next((d for d in documents if isinstance(d, dict) and d.get("kind") == "Secret"
                   and (d.get("metadata") or {}).get("name") == name), None)
    if secret is None:
        raise _Unreadable(f"no Secret named '{name}' (kubernetes.alertmanager_config_secret)")
    data, string_data = secret.get("data") or {}, secret.get("stringData") or {}
    if not isinstance(data, dict) or not isinstance(string_data, dict):
        raise _Unreadable("data and stringData must be mappings of key to text")
    try:
        keys = {str(key): base64.b64decode(value).decode() for key, value in data.items()}
    except (binascii.Error, UnicodeDecodeError, TypeError) as error:
        raise _Unreadable(f"data: not base64-encoded text: {error}") from error
    keys.update({str(key): str(value) for key, value in string_data.items()})
    return keys


def _load_config(text: str, file: str) -> dict[str, Any]:
    try:
        config = load_yaml(text)
    except yaml.YAMLError as error:
        raise _Unreadable(f"{file}: not valid YAML: {error}") from error
    if not isinstance(config, dict):
        raise _Unreadable(f"{file}: not a mapping")
    return config


def differences(actual: Any, expected: Any, where: str = "") -> Iterator[str]:
    """Where two parsed YAML documents differ, first difference first, as `path: value here, value there`."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            yield from differences(actual.get(key), expected.get(key), f"{where}.{key}" if where else str(key))
    elif isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        for index, (left, right) in enumerate(zip(actual, expected)):
            yield from differences(left, right, f"{where}[{index}]")
    elif actual != expected:
        yield f"{where or '(document)'}: {actual!r} here, {expected!r} in {_CONFIG}"


def _drift(result: ValidatorResult, context: ValidationContext, config: dict[str, Any], location: str) -> None:
    """The Secret's config is alertmanager.yml with the templates read from the operator's mount."""
    if not (context.out / CONFIG_PATH).is_file():
        result.findings.append(Finding(result.name, "error", _CONFIG, "", "not generated; run `obstack generate`"))
        return
    try:
        expected = _load_config((context.out / CONFIG_PATH).read_text(encoding="utf-8"), _CONFIG)
    except _Unreadable as error:
        result.findings.append(Finding(result.name, "error", _CONFIG, "", str(error)))
        return
    expected = with_templates_glob(expected, OPERATOR_TEMPLATES_GLOB)
    for difference in list(differences(config, expected))[:_MAX_DIFFERENCES]:
        result.findings.append(Finding(result.name, "error", _SECRET, location, difference))


def _template_drift(result: ValidatorResult, context: ValidationContext, templates: dict[str, str]) -> None:
    """One key per generated template, with the same text (the written file also carries the header)."""
    on_disk = {path.name: path for path in sorted((context.out / TEMPLATES_DIR).glob("*.tmpl"))}
    for key in sorted(set(on_disk) | set(templates)):
        where = f"stringData.{key}"
        if key not in templates:
            message = f"missing: {TEMPLATES_DIR / key} is not in the Secret"
        elif key not in on_disk:
            message = f"no {TEMPLATES_DIR / key} was generated"
        else:
            headed = with_header(Artifact(TEMPLATES_DIR / key, templates[key], ""), context.loaded.header_name).content
            if headed == on_disk[key].read_text(encoding="utf-8"):
                continue
            message = f"differs from {TEMPLATES_DIR / key}"
        result.findings.append(Finding(result.name, "error", _SECRET, where, message))


def _amtool(result: ValidatorResult, config: dict[str, Any], templates: dict[str, str]) -> bool:
    """`amtool check-config` on the Secret's keys written as the operator mounts them, in a scratch
    directory standing in for /etc/alertmanager/config."""
    with tempfile.TemporaryDirectory(prefix="obstack-am-secret-") as scratch:
        for key, text in templates.items():
            (Path(scratch) / key).write_text(text, encoding="utf-8")
        local = [str(entry).replace(OPERATOR_CONFIG_DIR.as_posix(), scratch, 1) for entry in config.get("templates") or []]
        config_file = Path(scratch) / CONFIG_KEY
        config_file.write_text(dump_yaml({**config, "templates": local}), encoding="utf-8")
        return check_config(result, config_file, _SECRET)


def alertmanager_secret_validator(context: ValidationContext) -> ValidatorResult:
    """The Secret's alertmanager.yaml passes `amtool check-config` with its templates where the operator
    mounts them, and equals alertmanager.yml (templates glob aside) and alertmanager/templates/."""
    result = ValidatorResult(NAME)
    if not (context.out / SECRET_PATH).is_file():
        result.findings.append(Finding(NAME, "error", _SECRET, "", "not generated; run `obstack generate`"))
        return result
    location = f"stringData.{CONFIG_KEY}"
    try:
        keys = _secret_keys(context)
        if CONFIG_KEY not in keys:
            raise _Unreadable(f"no '{CONFIG_KEY}' key: the operator would run Alertmanager with one empty receiver")
        config = _load_config(keys[CONFIG_KEY], location)
    except _Unreadable as error:
        result.findings.append(Finding(NAME, "error", _SECRET, "", str(error)))
        return result
    # A Secret key is a file name in the mount (no '/'); anything else cannot be a template there.
    templates = {key: text for key, text in keys.items() if PurePosixPath(key).suffix == ".tmpl" and "/" not in key}
    _drift(result, context, config, location)
    _template_drift(result, context, templates)
    passed = _amtool(result, config, templates)
    if passed and not result.findings:
        names = ", ".join(sorted(templates)) or "no templates"
        result.summary = (f"{_SECRET}: amtool accepts it with {names} at {OPERATOR_CONFIG_DIR}; "
                          f"equal to {_CONFIG} but for the templates glob")
    return result
