"""Your own rule files and their promtool tests, copied into the generated tree.

``prometheus.extra_rule_files`` go to ``prometheus/rules/<file name>`` (prometheus.yml loads
``rules/*.yml``, so Prometheus, the rule lint and ``promtool check rules`` see them like the
generated ones); ``prometheus.extra_rule_tests`` go to ``prometheus/tests/<file name>``, where the
promtool validator runs them. A test names its rule files by file name (``orders.yml``, or a
generated ``service-<service>.yml`` whose recording rules it reads): each is pointed at the copy
in ``../rules/``, so the same test runs beside your rule file and in the tree. A test naming
``services.yml`` (where the recordings were before each service got its file) is given every
service's recording file beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from obstack.alerts.promtool_tests import TESTS_DIR
from obstack.alerts.renamed_files import SHARED_SERVICE_FILE, is_recording_file
from obstack.alerts.rule_files import RULES_DIR, RuleDocument
from obstack.foundation.artifacts import Artifact, dump_yaml
from obstack.stack.spec.model import Spec

if TYPE_CHECKING:
    from obstack.stack.stack_model import StackModel


def _pointed_at_copies(test: Any, recording_files: Sequence[str]) -> Any:
    """The test file with each rule file named by its file name in ../rules/. ``services.yml``
    brings the services' recording files (``recording_files``) with it, unless the test names
    some itself: the recordings its alerts read are in those files."""
    if not (isinstance(test, dict) and isinstance(test.get("rule_files"), list)):
        return test
    names = [PurePosixPath(str(p)).name for p in test["rule_files"]]
    if SHARED_SERVICE_FILE in names and not any(is_recording_file(name) for name in names):
        at = names.index(SHARED_SERVICE_FILE) + 1
        names[at:at] = recording_files
    return {**test, "rule_files": [f"../rules/{name}" for name in names]}


def _user_rule_path(path: str) -> PurePosixPath:
    return RULES_DIR / PurePosixPath(path).name


def user_rule_documents(spec: Spec, user_files: Sequence[tuple[str, str]]) -> tuple[RuleDocument, ...]:
    """Your rule files as Prometheus reads them; one that is no YAML mapping is left to the lints."""
    texts = dict(user_files)
    documents = []
    for path in (p for p in spec.prometheus.extra_rule_files if p in texts):  # none given: none read
        try:
            body = yaml.safe_load(texts[path])
        except yaml.YAMLError:
            continue
        if isinstance(body, dict):
            documents.append(RuleDocument(_user_rule_path(path), body))
    return tuple(documents)


def user_rule_artifacts(model: StackModel) -> list[Artifact]:
    spec, texts = model.spec, dict(model.user_files)
    artifacts = [Artifact(_user_rule_path(p), texts[p], "prometheus-rules") for p in spec.prometheus.extra_rule_files]
    recording_files = [f.path.name for f in model.rule_files if is_recording_file(f.path.name)]
    for path in spec.prometheus.extra_rule_tests:
        try:
            test = yaml.safe_load(texts[path])
        except yaml.YAMLError:
            test = None  # copied as written: promtool reports what is wrong with it
        content = dump_yaml(_pointed_at_copies(test, recording_files)) if isinstance(test, dict) else texts[path]
        artifacts.append(Artifact(TESTS_DIR / PurePosixPath(path).name, content, "prometheus-tests"))
    return artifacts
