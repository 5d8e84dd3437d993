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

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

# A service's recording file: ``service-<service>.yml``.
RECORDING_FILE_PREFIX = "service-"
# Files of one service each: ``<prefix><service>.yml``.
PER_SERVICE_PREFIXES: tuple[str, ...] = (RECORDING_FILE_PREFIX, "slo-")


@dataclass(frozen=True)
class Renamed:
    """``path`` is ``source`` with service ``source_name`` renamed ``name``."""

    path: PurePosixPath
    name: str
    source: PurePosixPath
    source_name: str


@lru_cache(maxsize=1 << 14)  # asked for every recorded series' files of every test file: 200,000 times at 1000 services
def service_of(path: PurePosixPath) -> str | None:
    """The service a per-service rule file belongs to (``slo-api.yml``: ``api``), else None."""
    for prefix in PER_SERVICE_PREFIXES:
        if path.suffix == ".yml" and path.stem.startswith(prefix) and len(path.stem) > len(prefix):
            return path.stem.removeprefix(prefix)
    return None


_NUMBER_CHARS = frozenset("0123456789eE.+-")


def spelt_like_a_number(name: str) -> bool:
    """Whether ``name`` is made of a number's characters alone: it could sit inside a JSON or
    YAML number, where replacing it is no renaming."""
    return _NUMBER_CHARS.issuperset(name)


def swapped(text: str, one: str, other: str) -> str:
    """``text`` with every ``one`` and every ``other`` exchanged (neither may contain the other)."""
    return other.join(part.replace(other, one) for part in text.split(one))


# A link to a service selects it on its shape's dashboard, whose uid names the shape's first
# service (stack/spec/dashboard_identities.py): the same text in every file of the shape, which no
# exchange of two names carries from one file to the other. The renaming argument is about what the
# rules select and compute; the dashboard a link opens is left out of it (the service it selects,
# ``var-service``, is not).
_SHAPE_DASHBOARD_PATH = re.compile(r"/d/[A-Za-z0-9_-]+(?=\?var-service=)")


def without_dashboard_paths(text: str) -> str:
    """``text`` with the path of every shape dashboard a service link opens cut to ``/d/-``."""
    return _SHAPE_DASHBOARD_PATH.sub("/d/-", text) if "/d/" in text else text


def renaming_key(path: PurePosixPath, name: str, text: str) -> tuple[str, str]:
    """What a file and the files it may be a renamed copy of share: its kind (``slo-``,
    ``service-``) and its text with its own name blanked (and the shape dashboard paths cut)."""
    return path.stem[:-len(name)], without_dashboard_paths(text).replace(name, "\0")


def is_renamed(source_text: str, source_name: str, text: str, name: str) -> bool:
    """Whether ``text`` is ``source_text`` with the two names exchanged, byte for byte (the paths of
    shape dashboards aside)."""
    if source_name == name or source_name in name or name in source_name:
        return False  # a swap of names that contain each other is not a renaming
    return swapped(without_dashboard_paths(source_text), source_name, name) == without_dashboard_paths(text)


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
        bucket = firsts.setdefault(renaming_key(path, name, text), [])
        source = next(((first, first_name) for first, first_name in bucket
                       if is_renamed(texts[first], first_name, text, name)), None)
        if source is None:
            bucket.append((path, name))
        else:
            found[path] = Renamed(path, name, source[0], source[1])
    return found


# Services sharing one rule file (services.yml): its alert rules select them all through regex
# alternations of their names, and read each one's recordings (service-<name>.yml).
SHARED_SERVICE_FILE = "services.yml"
RECORDING_GROUP = re.compile(r"^service-(.+)-recording$")


def is_recording_file(name: str) -> bool:
    """Whether a rule file name is a service's recording file (``service-<name>.yml``)."""
    return name.startswith(RECORDING_FILE_PREFIX) and name.endswith(".yml")


def shared_services_document(documents: Mapping[str, Any]) -> dict[str, Any]:
    """services.yml's groups after every service's recording group (from its ``service-<name>.yml``),
    as one document for ``SharedServices.of``; ``documents`` maps rule file names to parsed files."""
    groups = [group for name, document in documents.items() if is_recording_file(name)
              for group in (document.get("groups") or [] if isinstance(document, Mapping) else [])]
    shared = documents.get(SHARED_SERVICE_FILE)
    return {"groups": groups + list((shared.get("groups") or []) if isinstance(shared, Mapping) else [])}
_NAME_ALTERNATION = re.compile(r'=~"([a-z0-9_-]+(?:\|[a-z0-9_-]+)+)"')


def document_strings(value: Any) -> Iterator[str]:
    """Every key and string in a parsed YAML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from document_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from document_strings(item)


@dataclass(frozen=True)
class SharedServices:
    """services.yml as the swap argument reads it (``shared_services_document``): each service's
    recording group (as canonical JSON), and the other groups (the alert rules) as the sets of
    names their regex alternations select plus every other string in them."""

    recordings: dict[str, str]  # service -> its recording group, canonical JSON
    alternations: tuple[frozenset[str], ...]
    outside: str  # every other string of the alert groups, alternations cut out

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> SharedServices:
        """From the parsed rule file (``{"groups": [...]}``)."""
        recordings: dict[str, str] = {}
        strings: list[str] = []
        for group in document.get("groups") or []:
            match = RECORDING_GROUP.match(str(group.get("name", "")))
            if match:
                recordings[match[1]] = json.dumps(group, sort_keys=True)
            else:
                strings += document_strings(group)
        alternations = tuple(frozenset(m.split("|")) for text in strings for m in _NAME_ALTERNATION.findall(text))
        return cls(recordings, alternations,
                   "\n".join(_NAME_ALTERNATION.sub("", without_dashboard_paths(text)) for text in strings))

    def signature(self, service: str) -> tuple[int, ...]:
        """The alternations that select ``service``."""
        return tuple(i for i, names in enumerate(self.alternations) if service in names)

    def swappable(self, one: str, other: str) -> bool:
        """Whether exchanging the two services changes nothing the alert rules select, and turns
        one's recording group into the other's. A regex alternation of literal names selects the
        same series whatever their order, so the alert rules need only select both or neither in
        each, and name neither anywhere else."""
        return (one not in self.outside and other not in self.outside
                and self.signature(one) == self.signature(other)
                and is_renamed(self.recordings[one], one, self.recordings[other], other))

    def representatives(self) -> dict[str, str]:
        """Each service's first service of its shape (itself when it is the first), in file order."""
        found: dict[str, str] = {}
        buckets: dict[tuple[tuple[int, ...], str], list[str]] = {}
        for service, text in self.recordings.items():
            bucket = buckets.setdefault((self.signature(service), text.replace(service, "\0")), [])
            found[service] = next((first for first in bucket if self.swappable(first, service)), service)
            if found[service] == service:
                bucket.append(service)
        return found

    def uncovered(self, tested: set[str]) -> list[str]:
        """The services neither in ``tested`` nor swappable with one that is."""
        firsts = self.representatives()
        return [service for service in self.recordings if service not in tested
                and not (firsts[service] in tested and self.swappable(firsts[service], service))
                and not any(self.swappable(other, service) for other in tested if other in self.recordings)]
