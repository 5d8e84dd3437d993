"""Files in a directory a server loads (Prometheus' rules dir, Alertmanager's config dir).

obstack owns only what it wrote there: the writer's manifest in that directory lists those
files with their hashes, so a deploy replaces and removes only them, as long as nobody edited
them since, and refuses to touch anyone else's (the writer's rule, ``ownership_problem``).
Before writing, a snapshot of obstack's files is taken; ``restore`` puts it back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from obstack.foundation.artifacts import Artifact
from obstack.stack.deploy.errors import DeployError
from obstack.stack.writer import MANIFEST_NAME, OutputError, ownership_problem, read_manifest, write_tree

KIND = "deployed"


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the target directory
    state: str  # "created", "updated" or "removed"
    old: str  # "" when created
    new: str  # "" when removed


@dataclass(frozen=True)
class Snapshot:
    """obstack's files in a directory before a deploy (and whether it had a manifest at all)."""

    directory: Path
    files: dict[str, str]
    had_manifest: bool


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, OSError) as error:
        raise DeployError(f"{path}: cannot read: {error}") from None


def _manifest(directory: Path) -> dict[str, str]:
    try:
        return read_manifest(directory)
    except OutputError as error:
        raise DeployError(str(error)) from None


def tree_files(out: Path, prefix: PurePosixPath) -> dict[str, str]:
    """The generated files under ``out/prefix`` (only those the tree's manifest lists), keyed relative to it."""
    files = {}
    for relative in sorted(_manifest(out)):
        path = PurePosixPath(relative)
        if prefix in path.parents:
            text = _read(out / relative)
            if text is None:
                raise DeployError(f"{out / relative}: listed in the tree's manifest but missing; run `obstack generate`")
            files[path.relative_to(prefix).as_posix()] = text
    return files


def plan(directory: Path, wanted: dict[str, str], adopt: frozenset[str] = frozenset()) -> list[FileChange]:
    """What writing ``wanted`` into ``directory`` would change; refuses to replace or remove a file
    that is not obstack's (foreign, or edited since obstack wrote it) unless it is in ``adopt``
    (a file the user named as the target, e.g. Alertmanager's config)."""
    manifest = _manifest(directory)
    changes = []
    for relative, text in sorted(wanted.items()):
        current = _read(directory / relative)
        if current == text:
            continue
        _refuse_the_users_file(directory, relative, current, manifest, adopt)
        changes.append(FileChange(relative, "updated" if current is not None else "created", current or "", text))
    for relative in sorted(set(manifest) - set(wanted) - adopt):
        current = _read(directory / relative)
        if current is not None:
            _refuse_the_users_file(directory, relative, current, manifest, adopt)
            changes.append(FileChange(relative, "removed", current, ""))
    return changes


def _refuse_the_users_file(directory: Path, relative: str, current: str | None, manifest: dict[str, str],
                           adopt: frozenset[str]) -> None:
    problem = None if relative in adopt else ownership_problem(relative, current, manifest)
    if problem is not None:
        raise DeployError(f"{directory / relative} {problem}; deploy never replaces or removes the user's files: "
                          "move it away")


def snapshot(directory: Path, adopt: frozenset[str] = frozenset()) -> Snapshot:
    """obstack's files (and the adopted ones) as they are now, to restore after a failure."""
    files = {}
    for relative in sorted({*_manifest(directory), *adopt}):
        text = _read(directory / relative)
        if text is not None:
            files[relative] = text
    return Snapshot(directory, files, (directory / MANIFEST_NAME).exists())


def write(directory: Path, files: dict[str, str], adopt: frozenset[str] = frozenset()) -> None:
    """Make obstack's files in ``directory`` exactly ``files`` (atomic writes, manifest updated).
    Foreign files were refused by ``plan`` except the adopted ones, which the writer may replace."""
    artifacts = [Artifact(PurePosixPath(p), text, KIND) for p, text in sorted(files.items())]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_tree(directory, artifacts, force=bool(adopt))
    except (OutputError, OSError) as error:
        raise DeployError(f"{directory}: cannot write: {error}") from None


def restore(saved: Snapshot) -> None:
    """Put obstack's files back as they were: rewrite the old ones, remove the ones added since."""
    write(saved.directory, saved.files, frozenset(saved.files))
    if not saved.had_manifest:
        (saved.directory / MANIFEST_NAME).unlink(missing_ok=True)
