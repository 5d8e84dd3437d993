"""A service's filesystem as its container sees it, rebuilt from the compose file's bind mounts.

Used to check the Prometheus configuration *as mounted*: a config that is valid on disk can
still load no rules in the container when a mount puts it somewhere else. Absolute paths in
the copy are rewritten into the rebuilt root so that promtool, on the host, follows them.
"""

from __future__ import annotations

import glob
import posixpath
import shutil
from pathlib import Path
from typing import Any

import yaml

from obstack.compose.compose_lint import bind_mounts  # one definition of what a bind mount is

# Keys of prometheus.yml whose values are paths (besides rule_files).
_PATH_KEYS = ("_file", "files")


def rebuild_root(compose_dir: Path, service: dict[str, Any], root: Path) -> list[str]:
    """Copy every bind-mounted file or directory of ``service`` to ``root/<container path>``."""
    missing = []
    for source, target, _ in bind_mounts(service):
        if source.startswith("/"):
            continue  # host paths (/proc, /sys) hold no configuration
        host = (compose_dir / source).resolve()
        destination = root / target.lstrip("/")
        if host.is_dir():
            shutil.copytree(host, destination, dirs_exist_ok=True)
        elif host.is_file():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(host, destination)
        else:
            missing.append(f"{source} (mounted at {target}) does not exist")
    return missing


def config_path(service: dict[str, Any], default: str = "/etc/prometheus/prometheus.yml") -> str:
    for argument in service.get("command") or []:
        if str(argument).startswith("--config.file="):
            return str(argument).split("=", 1)[1]
    return default


def _rewrite(node: Any, root: Path, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _rewrite(v, root, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(item, root, key) for item in node]
    if isinstance(node, str) and node.startswith("/") and (key == "rule_files" or key.endswith(_PATH_KEYS)):
        return str(root) + node
    return node


def rewrite_config(root: Path, container_config: str) -> tuple[Path, list[str]]:
    """Rewrite the copied config's absolute paths into ``root``; report rule globs that match nothing.

    Prometheus accepts a rule_files glob that matches no file and then evaluates no rules,
    so an empty match in the container view is reported here as a problem.
    """
    config = root / container_config.lstrip("/")
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    data = _rewrite(data, root)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    problems = []
    for pattern in data.get("rule_files") or []:
        absolute = pattern if pattern.startswith("/") else posixpath.join(str(config.parent), pattern)
        if not glob.glob(absolute):
            shown = pattern.replace(str(root), "")
            problems.append(f"rule_files pattern {shown} matches no file in the container")
    return config, problems
