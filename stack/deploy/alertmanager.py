"""Deploying the Alertmanager config and templates: write beside its config file, reload, verify.

Alertmanager's ``/api/v2/status`` returns ``config.original`` re-marshalled with every default
filled in (and template globs made absolute), so "matches what was written" means: every
key and value we wrote is served unchanged; defaults it added are fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from obstack.alerts.alertmanager_config import CONFIG_PATH
from obstack.stack.deploy.errors import DeployError
from obstack.stack.deploy.files import tree_files
from obstack.stack.deploy.http import HttpClient, answer_field, body_excerpt

TREE_PREFIX = CONFIG_PATH.parent  # alertmanager/
MASKED = "<secret>"  # how Alertmanager prints secrets it holds inline


def config_mismatch(written: Any, served: Any, path: str = "") -> str | None:
    """The first place ``written`` is not served as written (None when every value is)."""
    where = path or "config"
    if isinstance(written, dict):
        if not isinstance(served, dict):
            return f"{where}: served as {type(served).__name__}"
        for key, value in written.items():
            if key not in served:
                return f"{path}.{key}".lstrip(".") + ": missing from the served config"
            problem = config_mismatch(value, served[key], f"{path}.{key}".lstrip("."))
            if problem:
                return problem
        return None
    if isinstance(written, list):
        if not isinstance(served, list) or len(served) != len(written):
            return f"{where}: served {len(served) if isinstance(served, list) else served!r} entries, wrote {len(written)}"
        for index, (mine, theirs) in enumerate(zip(written, served)):
            problem = config_mismatch(mine, theirs, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if written == served or served == MASKED:
        return None
    return f"{where}: served {served!r}, wrote {written!r}"


@dataclass
class AlertmanagerTarget:
    client: HttpClient
    config_path: Path  # the file Alertmanager loads (--config.file)
    name: str = "alertmanager"

    @property
    def directory(self) -> Path:
        return self.config_path.parent

    @property
    def adopt(self) -> frozenset[str]:
        # The config file is named by the user as the deploy target, so obstack takes it over
        # even when someone else wrote it (its old content is restored on rollback);
        # everything else beside it stays untouchable unless obstack wrote it.
        return frozenset({self.config_path.name})

    def wanted(self, out: Path) -> dict[str, str]:
        files = tree_files(out, TREE_PREFIX)
        config_name = CONFIG_PATH.name
        if config_name not in files:
            raise DeployError(f"{out / CONFIG_PATH}: not in the generated tree; run `obstack generate`")
        files[self.config_path.name] = files.pop(config_name)
        return files

    def check_reachable(self) -> None:
        self.client.json("GET", "/api/v2/status")

    def reload_and_verify(self, files: dict[str, str]) -> None:
        response = self.client.request("POST", "/-/reload", retry_server_errors=False)
        if response.status_code != 200:
            raise DeployError(f"alertmanager rejected the reload ({response.status_code}): {body_excerpt(response)}")
        served_text = answer_field(self.client.json("GET", "/api/v2/status"), "alertmanager status", "config", "original", kind=str)
        if self.config_path.name not in files:
            return  # restoring to "no obstack config": the reload succeeding is all there is to check
        written = yaml.safe_load(files[self.config_path.name]) or {}
        served = yaml.safe_load(served_text) or {}
        # Template globs are resolved against the config file's directory on the server.
        written_templates = written.pop("templates", [])
        served_templates = served.pop("templates", [])
        problem = config_mismatch(written, served)
        if problem is None and not (len(written_templates) == len(served_templates) and all(
                PurePosixPath(theirs).as_posix().endswith("/" + mine) or theirs == mine
                for mine, theirs in zip(written_templates, served_templates))):
            problem = f"templates: served {served_templates}, wrote {written_templates}"
        if problem:
            raise DeployError(f"alertmanager does not serve the written config ({self.config_path}): {problem}")
