"""The only code that writes the output tree: atomic files, a manifest, stale removal, drift checks.

The manifest (``.obstack-manifest.json``) lists every file obstack wrote with its hash,
so a later run removes the files it no longer generates and never touches anyone else's, nor
one of its own that someone edited since (``ownership_problem``, also deploy's rule).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from obstack.foundation.artifacts import Artifact

MANIFEST_NAME = ".obstack-manifest.json"


class OutputError(Exception):
    """The output directory cannot be written as asked (one line, shown to the user)."""


@dataclass
class WriteReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Drift:
    path: str
    state: str  # "missing", "differs" or "stale"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ownership_problem(relative: str, current: str | None, manifest: dict[str, str]) -> str | None:
    """Why obstack may not replace or remove the file at ``relative`` whose text is ``current``
    (None: there is none), given the ``manifest`` of its directory; None when it may. The one rule
    of the writer and of deploy: a file obstack did not write, or one of its own that someone
    edited since (its hash is not the manifest's), is the user's."""
    if current is None:
        return None
    digest = manifest.get(relative)
    if digest is None:
        return "exists and was not written by obstack"
    if digest != _digest(current):
        return "was edited since obstack wrote it (its hash is not the manifest's)"
    return None


def read_manifest(out: Path) -> dict[str, str]:
    path = out / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (ValueError, AttributeError, OSError):
        raise OutputError(f"{path}: unreadable manifest; delete it and run `obstack generate --force`") from None
    return {str(k): str(v) for k, v in files.items()}


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: --out must be a directory, but it is a file")
    existing = next((parent for parent in out.absolute().parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputError(f"{out}: --out cannot be created: {existing} is a file, not a directory; choose another --out")


def _writable(out: Path) -> None:
    """Create ``out`` or fail with one line before anything else is written (e.g. under /proc)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".obstack-probe.", delete=True)
        probe.close()
    except OSError as error:
        raise OutputError(f"{out}: --out is not writable ({error.strerror}); choose another --out") from None


def atomic_write(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` through a temp file and a rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _current_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def write_tree(out: Path, artifacts: list[Artifact], force: bool = False, prune: bool = True) -> WriteReport:
    """Make ``out`` hold exactly ``artifacts`` among the files obstack owns there.

    With ``prune=False`` (a partial run such as `obstack docs`), files obstack wrote before
    and not among ``artifacts`` are kept, and stay in the manifest."""
    _check_out_dir(out)
    previous = read_manifest(out)
    wanted = {a.path.as_posix(): a for a in artifacts}
    if not force:
        _refuse_the_users_files(out, wanted, previous, prune)
    _writable(out)
    try:
        return _write(out, wanted, previous, prune)
    except OSError as error:
        raise OutputError(f"{error.filename or out}: cannot write ({error.strerror}); choose another --out") from None


def _refuse_the_users_files(out: Path, wanted: dict[str, Artifact], previous: dict[str, str], prune: bool) -> None:
    """OutputError for the first file the run would replace or remove that is not obstack's to touch."""
    stale = sorted(set(previous) - set(wanted)) if prune else []
    for relative, action in [*((p, "replace") for p in wanted), *((p, "delete") for p in stale)]:
        target = out / relative
        if not target.exists():
            continue
        current = _current_text(target)
        if relative in wanted and current == wanted[relative].content:
            continue  # already what obstack would write: nothing is lost
        # Undecodable bytes are certainly not what obstack wrote: compared as "" they fail the hash.
        problem = ownership_problem(relative, "" if current is None else current, previous)
        if problem is not None:
            raise OutputError(f"{target} {problem}; move it away or pass --force to {action} it")


def _write(out: Path, wanted: dict[str, Artifact], previous: dict[str, str], prune: bool) -> WriteReport:
    report = WriteReport()
    for relative, artifact in wanted.items():
        target = out / relative
        current = _current_text(target)
        if current == artifact.content:
            report.unchanged.append(relative)
            continue
        atomic_write(target, artifact.content)
        (report.updated if current is not None else report.created).append(relative)
    kept = {p: digest for p, digest in previous.items() if p not in wanted} if not prune else {}
    for relative in sorted(set(previous) - set(wanted) - set(kept)):
        target = out / relative
        if target.is_file():
            target.unlink()
            report.removed.append(relative)
            _remove_empty_parents(target.parent, out)
    files = {**kept, **{p: _digest(a.content) for p, a in wanted.items()}}
    manifest = {"generator": "obstack", "files": dict(sorted(files.items()))}
    atomic_write(out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return report


def _remove_empty_parents(directory: Path, root: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def check_tree(out: Path, artifacts: list[Artifact]) -> list[Drift]:
    """What differs between ``out`` and ``artifacts``; writes nothing."""
    _check_out_dir(out)
    previous = read_manifest(out)
    drift: list[Drift] = []
    wanted = {a.path.as_posix(): a for a in artifacts}
    for relative, artifact in wanted.items():
        current = _current_text(out / relative)
        if current is None:
            drift.append(Drift(relative, "missing"))
        elif current != artifact.content:
            drift.append(Drift(relative, "differs"))
    for relative in sorted(set(previous) - set(wanted)):
        if (out / relative).is_file():
            drift.append(Drift(relative, "stale"))
    return sorted(drift, key=lambda d: d.path)
