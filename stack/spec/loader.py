"""Load a stack spec: read, parse with positions, validate, cross-check.

Every problem becomes a ``SpecProblem`` pointing at file, line and YAML path; the
caller gets either a valid ``LoadedSpec`` or a ``SpecError`` listing them all.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .base import StrictModel
from .checks import cross_check
from .dashboard_identities import user_dashboard_problems
from .errors import SpecError, SpecProblem, did_you_mean, looks_secret
from .model import Spec
from .notifications import UNSUPPORTED_RECEIVERS
from .placeholders import placeholder_warnings
from .reference import spec_rows
from .text_safety import MAX_VALUES, too_large, unsafe_text
from .positions import PositionMap, YamlPath, parse_yaml, path_at_line

DEFAULT_SPEC_NAME = "obstack:default.yaml"


@dataclass(frozen=True)
class LoadedSpec:
    spec: Spec
    name: str  # how the spec is named in messages: the path as given
    text: str
    # (path relative to the spec, text) of each of your own rule, test and dashboard files, read at load time.
    user_files: tuple[tuple[str, str], ...] = ()
    warnings: tuple[SpecProblem, ...] = ()  # usable, but probably not what is meant (placeholders)

    @property
    def header_name(self) -> str:
        """How generated headers name the spec: its file name alone, so the same spec generates the
        same bytes however its path is typed (``stack.yaml``, ``./stack.yaml``, an absolute path)."""
        return self.name if self.name == DEFAULT_SPEC_NAME else Path(self.name).name

    @property
    def directory(self) -> Path:
        """Where paths in the spec are relative to (the working directory for the embedded spec)."""
        return spec_directory(self.name)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def spec_directory(name: str) -> Path:
    """Where paths in the spec named ``name`` are relative to."""
    return Path.cwd() if name == DEFAULT_SPEC_NAME else Path(name).parent


def default_spec_text() -> str:
    return resources.files("obstack.stack.spec").joinpath("default.yaml").read_text(encoding="utf-8")


def load_spec(path: Path | None = None) -> LoadedSpec:
    """Load ``path``, or the embedded bookmark-api spec when it is None."""
    if path is None:
        return load_spec_text(default_spec_text(), DEFAULT_SPEC_NAME)
    name = str(path)
    if path.is_dir():
        raise SpecError([SpecProblem(name, 1, (), "is a directory; pass the spec file, e.g. stack.yaml")])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([SpecProblem(name, 1, (), "file not found; create one with `obstack init`")]) from None
    except OSError as error:
        raise SpecError([SpecProblem(name, 1, (), f"cannot read: {error.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        path = path_at_line(raw.decode("utf-8", errors="replace"), line)
        raise SpecError([SpecProblem(name, line, path, f"byte 0x{byte:02X} is not UTF-8 text; save the file as UTF-8")]) from None
    return load_spec_text(text, name)


def load_spec_text(text: str, name: str) -> LoadedSpec:
    data, positions, yaml_problems = parse_yaml(text)
    if yaml_problems:
        raise SpecError([SpecProblem(name, p.line, p.path, p.message) for p in yaml_problems])
    if data is None:
        raise SpecError([SpecProblem(name, 1, (), "the spec is empty; start from `obstack init`")])
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(name, 1, (), f"the spec must be a mapping of keys, not a {type(data).__name__}")])
    if too_large(data):
        raise SpecError([SpecProblem(name, 1, (), f"the spec expands to more than {MAX_VALUES:,} values (aliases of aliases "
                                                  "multiply); write the entries out")])
    unsafe = [SpecProblem(name, positions.line_of(path), path, message) for path, message in unsafe_text(data)]
    if unsafe:
        raise SpecError(unsafe)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as error:
        problems = [_problem(name, positions, data, e) for e in error.errors()]
        raise SpecError([p for p in problems if p is not None]) from None
    problems = [SpecProblem(name, positions.line_of(path), path, message) for path, message in cross_check(spec)]
    if problems:
        raise SpecError(problems)
    warnings = tuple(SpecProblem(name, positions.line_of(path), path,
                                 message + ("" if path in positions.lines else " (left at its default)"))
                     for path, message in placeholder_warnings(spec))
    return LoadedSpec(spec, name, text, _user_files(spec, name, positions), warnings)


def _user_files(spec: Spec, name: str, positions: PositionMap) -> tuple[tuple[str, str], ...]:
    """The text of every file of your own the spec names: rule files and tests (prometheus.extra_rule_*)
    and each *.json of grafana.extra_dashboards_dir, by their path relative to the spec."""
    wanted: list[tuple[YamlPath, str]] = [(("prometheus", key, index), relative)
                                          for key in ("extra_rule_files", "extra_rule_tests")
                                          for index, relative in enumerate(getattr(spec.prometheus, key))]
    folder = spec.grafana.extra_dashboards_dir
    if folder is not None:
        where: YamlPath = ("grafana", "extra_dashboards_dir")
        if not (spec_directory(name) / folder).is_dir():
            raise SpecError([SpecProblem(name, positions.line_of(where), where,
                                         f"{folder} (relative to the spec) is not a directory")])
        wanted += [(where, f"{folder.rstrip('/')}/{json.name}")
                   for json in sorted((spec_directory(name) / folder).glob("*.json"))]
    files, problems = [], []
    for path, relative in wanted:
        try:
            files.append((relative, (spec_directory(name) / relative).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
            problems.append(SpecProblem(name, positions.line_of(path), path,
                                        f"cannot read {relative} (relative to the spec): {reason}"))
    if folder is not None and not problems:
        where = ("grafana", "extra_dashboards_dir")
        problems += [SpecProblem(name, positions.line_of(where), where, message)
                     for message in user_dashboard_problems(spec, files)]
    if problems:
        raise SpecError(problems)
    return tuple(files)


def _resolve(loc: tuple[str | int, ...], data: Any) -> tuple[YamlPath, tuple[str | int, ...]]:
    """Map a pydantic location onto the YAML document.

    Returns the path that exists in the document and the rest of the location that does
    not. Discriminated-union tags (``'postgres'`` under an entry whose ``kind`` is
    postgres) and validator names are skipped; anything else ends the walk, so a later
    part is never matched at the wrong level.
    """
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and part in (node.get("kind"), node.get("type")):
            continue
        elif isinstance(part, str) and part.startswith("function-"):
            continue
        else:
            return tuple(path), loc[index:]
    return tuple(path), ()


def _problem(name: str, positions: PositionMap, data: Any, error: Any) -> SpecProblem | None:
    """One user-facing problem, or None when the error is an echo of another one."""
    kind, ctx = error["type"], error.get("ctx", {})
    path, unresolved = _resolve(tuple(error["loc"]), data)
    if any(part in _derived_keys() for part in unresolved):
        # A value obstack filled in from another key (job from name, team from the
        # spec's team, health_url from targets): the source key's own error says it all.
        return None
    if kind == "missing":
        path = path + unresolved[:1]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "")).strip("'")
        path = path + (discriminator,)
        if kind == "union_tag_invalid":
            expected = str(ctx.get("expected_tags", "")).replace("'", "")
            message = f"{discriminator} '{ctx.get('tag')}' is not one of: {expected}"
            if ctx.get("tag") in UNSUPPORTED_RECEIVERS:
                message += f"; {UNSUPPORTED_RECEIVERS[str(ctx.get('tag'))]}"
        else:
            message = f"missing required key '{discriminator}'"
    else:
        message = _message(kind, error, path)
    return SpecProblem(name, positions.line_of(path), path, message)


def _message(kind: str, error: Any, path: YamlPath) -> str:
    text = str(error["msg"])
    if kind == "extra_forbidden":
        return unknown_key_message(path)
    if kind == "missing":
        return f"missing required key '{path[-1]}'"
    if kind.startswith("value_error") or kind == "assertion_error":
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if looks_secret(path) or isinstance(value, (dict, list)):
        return text
    return f"{text} (got {value!r})"


# Keys people write inline where only a reference is allowed, and what to write instead.
_INLINE_SECRET_KEYS = {
    "dsn": "dsn_env or dsn_file",
    "url": "url_env or url_file",
    "uri": "dsn_env/url_env or dsn_file/url_file",
    "password": "a password inside the connection string read from dsn_env/url_env or a *_file",
}


def unknown_key_message(path: YamlPath) -> str:
    key = str(path[-1]) if path else ""
    if key in _INLINE_SECRET_KEYS:
        return f"inline '{key}' is not allowed (it would leak into generated files); use {_INLINE_SECRET_KEYS[key]}"
    parent = _key_pattern(path[:-1])
    keys = _spec_keys()
    siblings = sorted({k for p, k in keys if p == parent})
    # A key the spec has elsewhere is misplaced, not misspelled (top-level 'targets' is no typo of 'alerts').
    homes = sorted({p for p, k in keys if k == key})
    if homes:
        where = ", ".join(h or "the top level" for h in homes)
        return f"'{key}' is not allowed here; it belongs under {where}"
    suggestion = did_you_mean(key, siblings)
    if suggestion:
        return f"unknown key '{key}'{suggestion}"
    return "unknown key '" + key + "'; see `obstack schema` or docs/spec-reference.md for the keys allowed here"


def _key_pattern(path: YamlPath) -> str:
    """``('services', 0, 'slos', 1)`` -> ``services[].slos[]``, the reference's notation."""
    text = ""
    for part in path:
        text += "[]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@functools.cache
def _spec_keys() -> frozenset[tuple[str, str]]:
    """(parent pattern, key) of every key the spec allows, variants merged."""
    keys = set()
    for row in spec_rows(Spec, ""):
        parent, _, key = re.sub(r"\((kind|type)=[a-z]+\)", "", row[0]).rpartition(".")
        keys.add((parent, key))
    return frozenset(keys)


@functools.cache
def _derived_keys() -> frozenset[str]:
    names: set[str] = set()
    pending: list[type[StrictModel]] = [StrictModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        names.update(model.derived_fields)
    return frozenset(names)


