"""`obstack validate --changed`: what passed before, by the digest of what it read.

Every run records, in ``<out>/.obstack-validated.json``, the digest of the inputs of each check
that passed (no error; its warnings and summary are kept with it): a whole validator (its files,
and the spec when it reads the spec) or one file of a per-file tool run (a rule file for `promtool
check rules`; a test file and the rule files it loads for `promtool test rules`). With
``--changed`` a check whose inputs have the recorded digest is not run again, and its recorded
outcome stands in for it. Digests carry obstack's version, so an upgrade runs everything. The
record is a cache, never a verdict: without ``--changed`` every check runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from obstack.foundation.findings import Finding
from obstack.stack.writer import atomic_write

RECORD_NAME = ".obstack-validated.json"
REUSED_NOTE = "reused: inputs unchanged since it passed"
_FORMAT = 2


@dataclass(frozen=True)
class Inputs:
    """What a validator reads: files of the tree (globs relative to --out) and maybe the spec."""

    globs: tuple[str, ...]
    spec: bool = True


# The validators that may be skipped as a whole, with what they read. The spec and tree checks
# always run (they are what makes the tree's files stand for the spec); every validator that
# looks at the spec or the generated artifacts in memory lists the spec.
VALIDATOR_INPUTS: dict[str, Inputs] = {
    "promtool check config": Inputs(("prometheus/**/*",), spec=False),
    "promtool check rules": Inputs(("prometheus/rules/*.yml", "ruler/rules/*.yml"), spec=False),
    "promtool test rules": Inputs(("prometheus/**/*",), spec=False),
    "rule lint": Inputs(("prometheus/**/*", "ruler/**/*")),
    "amtool check-config": Inputs(("alertmanager/**/*",)),
    "amtool config routes test": Inputs(("alertmanager/**/*",)),
    "amtool template render": Inputs(("alertmanager/**/*",)),
    "inhibition": Inputs(("alertmanager/**/*", "prometheus/rules/*.yml")),
    "dashboard lint": Inputs(("grafana/**/*",)),
    "docker-compose config": Inputs(("**/*",)),
    "compose lint": Inputs(("**/*",)),
    "promtool check config (compose)": Inputs(("**/*",)),
    "kubernetes schemas": Inputs(("kubernetes/**/*",)),
    "prometheus-operator objects": Inputs(("kubernetes/**/*",)),
    "alertmanager config (kubernetes)": Inputs(("kubernetes/**/*", "alertmanager/**/*")),
}


@lru_cache(maxsize=1)
def _obstack_version() -> str:
    try:
        return version("obstack")
    except PackageNotFoundError:
        return "source"


@dataclass
class ValidationRecord:
    """The checks that passed, by input digest; ``reuse``: skip those whose inputs are unchanged."""

    out: Path
    spec_digest: str
    reuse: bool
    passed: dict[str, dict[str, Any]] = field(default_factory=dict)  # check -> digest, summary, findings
    _file_digests: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def load(cls, out: Path, spec_digest: str, reuse: bool) -> ValidationRecord:
        record = cls(out, spec_digest, reuse)
        try:
            document = json.loads((out / RECORD_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return record  # none yet, or unreadable: everything runs
        if isinstance(document, dict) and document.get("format") == _FORMAT and isinstance(document.get("passed"), dict):
            record.passed = {str(k): v for k, v in document["passed"].items() if isinstance(v, dict)}
        return record

    def validator_inputs(self, name: str) -> list[Path]:
        """The files validator ``name`` reads (VALIDATOR_INPUTS)."""
        inputs = VALIDATOR_INPUTS[name]
        files = {path for pattern in inputs.globs for path in self.out.glob(pattern) if path.is_file()}
        return sorted(path for path in files if path.name != RECORD_NAME)

    def digest(self, check: str, files: Iterable[Path], spec: bool) -> str:
        hasher = hashlib.sha256(f"{_obstack_version()}\0{check}\0{self.spec_digest if spec else ''}".encode())
        for path in sorted(set(files)):
            hasher.update(f"\0{path.relative_to(self.out).as_posix()}\0{self._file_digest(path)}".encode())
        return hasher.hexdigest()

    def _file_digest(self, path: Path) -> str:
        if path not in self._file_digests:
            try:
                self._file_digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self._file_digests[path] = "missing"
        return self._file_digests[path]

    def reused(self, check: str, files: Iterable[Path], spec: bool = False) -> Outcome | None:
        """What ``check`` found when it passed on exactly these inputs, when ``--changed`` asks
        to reuse it; else None (run it)."""
        entry = self.passed.get(check) if self.reuse else None
        if entry is None or entry.get("digest") != self.digest(check, files, spec):
            return None
        try:
            return Outcome(str(entry.get("summary", "")), [_finding(item) for item in entry.get("findings", [])])
        except (TypeError, ValueError):
            return None  # a record written by hand or by another version: run it

    def settle(self, check: str, files: Iterable[Path], outcome: Outcome | None, spec: bool = False) -> None:
        """Record what ``check`` found on these inputs (``outcome``: it passed), or forget it (None)."""
        if outcome is None:
            self.passed.pop(check, None)
            return
        self.passed[check] = {"digest": self.digest(check, files, spec), "summary": outcome.summary,
                              "findings": [_jsonable(finding) for finding in outcome.findings]}

    def save(self) -> None:
        """Atomically; a read-only tree keeps its old record (the record only saves time)."""
        text = json.dumps({"format": _FORMAT, "passed": dict(sorted(self.passed.items()))}, indent=1) + "\n"
        try:
            atomic_write(self.out / RECORD_NAME, text)
        except OSError:
            pass


@dataclass(frozen=True)
class Outcome:
    """A passing check's summary and findings (warnings, notes), as recorded and replayed."""

    summary: str
    findings: list[Finding]


def _jsonable(finding: Finding) -> dict[str, Any]:
    return {**asdict(finding), "scope": [list(pair) for pair in finding.scope]}


def _finding(item: dict[str, Any]) -> Finding:
    return Finding(**{**item, "scope": tuple(tuple(pair) for pair in item.get("scope", []))})


def file_check(validator: str, relative: str) -> str:
    """The record's key of one file's check inside a validator."""
    return f"{validator}: {relative}"
