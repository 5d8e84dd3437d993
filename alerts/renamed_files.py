"""Per-service rule files that are another service's file under another name, tested once.

A fleet's services mostly share their SLO settings, so their ``slo-<service>.yml`` files are the
same rules with the service's name in them. Such a file is *renamed* from the first file of its
shape: swapping the two services' names in the first file's text gives this file's text, byte
for byte. PromQL and promtool never look inside a label value or a name except by equality (names
are lower-case letters, digits, '-' and '_', nothing a regex matcher would read as syntax), so
the first file's tests, with the same swap, test the renamed file: they would pass or fail alike.
Its tests are generated and run once; the swap is checked again on the written tree by the
``promtool test rules`` validator, which fails a file that is neither tested nor renamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

# Files of one service each: ``<prefix><service>.yml``.
PER_SERVICE_PREFIXES: tuple[str, ...] = ("slo-",)


@dataclass(frozen=True)
class Renamed:
    """``path`` is ``source`` with service ``source_name`` renamed ``name``."""

    path: PurePosixPath
    name: str
    source: PurePosixPath
    source_name: str


def service_of(path: PurePosixPath) -> str | None:
    """The service a per-service rule file belongs to (``slo-api.yml``: ``api``), else None."""
    for prefix in PER_SERVICE_PREFIXES:
        if path.suffix == ".yml" and path.stem.startswith(prefix) and len(path.stem) > len(prefix):
            return path.stem.removeprefix(prefix)
    return None


def swapped(text: str, one: str, other: str) -> str:
    """``text`` with every ``one`` and every ``other`` exchanged (neither may contain the other)."""
    return other.join(part.replace(other, one) for part in text.split(one))


def is_renamed(source_text: str, source_name: str, text: str, name: str) -> bool:
    """Whether ``text`` is ``source_text`` with the two names exchanged, byte for byte."""
    if source_name == name or source_name in name or name in source_name:
        return False  # a swap of names that contain each other is not a renaming
    return swapped(source_text, source_name, name) == text


def renamed_files(paths: Sequence[PurePosixPath], texts: Mapping[PurePosixPath, str]) -> dict[PurePosixPath, Renamed]:
    """Each per-service file that is the renamed first file of its shape (in ``paths`` order).

    Files are bucketed by their text with their own name blanked, so each file is compared with
    the few first files that can match it, not with every file before it."""
    firsts: dict[tuple[str, str], list[tuple[PurePosixPath, str]]] = {}
    found: dict[PurePosixPath, Renamed] = {}
    for path in paths:
        name = service_of(path)
        if name is None:
            continue
        text = texts[path]
        prefix = path.stem[:-len(name)]
        bucket = firsts.setdefault((prefix, text.replace(name, "\0")), [])
        source = next(((first, first_name) for first, first_name in bucket
                       if is_renamed(texts[first], first_name, text, name)), None)
        if source is None:
            bucket.append((path, name))
        else:
            found[path] = Renamed(path, name, source[0], source[1])
    return found
