"""Every generated dashboard type-checks against Grafana's published schema types: @grafana/schema at
the version of the Grafana the stack runs, compiled by TypeScript's tsc (both pinned in
tests/grafana-schema/, installed by `make test`). Each dashboard becomes a `.ts` file,
`export const dashboard: StrictDashboard = <its JSON>;` (tests/grafana-schema/dashboard.ts), and one
tsc run checks them all, beside deliberately wrong dashboards that must each fail."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obstack.dashboards.generate import build_dashboards
from obstack.dashboards.normalise import GRAFANA_VERSION
from obstack.stack.spec.loader import load_spec
from tests.dashboards.support import SPECS, panels_of

TYPES_DIR = Path(__file__).parent / "grafana-schema"
TSC = TYPES_DIR / "node_modules" / ".bin" / "tsc"
SHOP = Path(__file__).parent / "specs" / "shop.yaml"
_ERROR_RE = re.compile(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<column>\d+)\): error (?P<code>TS\d+): (?P<message>.*)$")

Board = dict[str, Any]


def _panel(board: Board, kind: str) -> dict[str, Any]:
    return next(p for p in panels_of(board) if p["type"] == kind)


def _set_stat_colour(board: Board) -> None:
    _panel(board, "stat")["options"]["colorMode"] = "rainbow"


def _legacy_span(board: Board) -> None:
    _panel(board, "timeseries")["span"] = 6


def _string_null_threshold(board: Board) -> None:
    _panel(board, "stat")["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = "null"


def _dotted_lines(board: Board) -> None:
    _panel(board, "timeseries")["fieldConfig"]["defaults"]["custom"]["drawStyle"] = "dots"


def _unknown_cell(board: Board) -> None:
    _panel(board, "table")["fieldConfig"]["defaults"]["custom"]["cellOptions"] = {"type": "color-bg"}


def _no_reduce_options(board: Board) -> None:
    del _panel(board, "stat")["options"]["reduceOptions"]


def _dropdown_variable(board: Board) -> None:
    board["templating"]["list"][1]["type"] = "dropdown"


def _log_metric(board: Board) -> None:
    _panel(board, "logs")["targets"][0]["metrics"][0]["type"] = "log"


# name -> (dashboard of the default spec, how to break it, a word tsc's error must name)
BROKEN: dict[str, tuple[str, Callable[[Board], None], str]] = {
    "stat-colour-mode": ("bookmark-redis", _set_stat_colour, "rainbow"),
    "legacy-panel-key": ("bookmark-redis", _legacy_span, "span"),
    "string-null-threshold": ("bookmark-postgres", _string_null_threshold, "'string' is not assignable to type 'number'"),
    "timeseries-draw-style": ("bookmark-postgres", _dotted_lines, "dots"),
    "table-cell-type": ("bookmark-alerts-slos", _unknown_cell, "color-bg"),
    "stat-without-reduce-options": ("bookmark-host", _no_reduce_options, "reduceOptions"),
    "variable-type": ("bookmark-queues", _dropdown_variable, "dropdown"),
    "elasticsearch-metric": ("bookmark-service-bookmark-api", _log_metric, '"log"'),
}


def _specs() -> dict[str, Any]:
    return {**{name: make() for name, make in SPECS.items()}, "shop": load_spec(SHOP).spec}


def _typed(board: Board) -> str:
    types = (TYPES_DIR / "dashboard").as_posix()
    return (f"import type {{ StrictDashboard }} from {json.dumps(types)};\n\n"
            f"export const dashboard: StrictDashboard = {json.dumps(board, indent=2, ensure_ascii=False)};\n")


def _errors(output: str) -> dict[str, list[str]]:
    """tsc's errors by file name (its messages may run on over indented lines)."""
    found: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in output.splitlines():
        match = _ERROR_RE.match(line)
        if match:
            last = found.setdefault(Path(match["file"]).name, [])
            last.append(f"{match['line']}:{match['column']} {match['code']} {match['message']}")
        elif last is not None and line.startswith(" "):
            last[-1] += " " + line.strip()
    return found


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[str]], list[str], str]:
    """(errors by file, the files, tsc's whole output) of one tsc run over every dashboard and every broken one."""
    assert TSC.is_file(), f"{TSC} missing: `make test` installs it (npm ci in {TYPES_DIR})"
    out = tmp_path_factory.mktemp("dashboard-types")
    files = []
    default_boards = {}
    for spec_name, spec in _specs().items():
        for board in build_dashboards(spec):
            name = f"{spec_name}--{board['uid']}.ts"
            (out / name).write_text(_typed(board), encoding="utf-8")
            files.append(name)
            if spec_name == "default":
                default_boards[board["uid"]] = board
    for broken, (uid, breaks, _) in BROKEN.items():
        board = copy.deepcopy(default_boards[uid])
        breaks(board)
        (out / f"broken--{broken}.ts").write_text(_typed(board), encoding="utf-8")
    config = {"extends": (TYPES_DIR / "tsconfig.json").as_posix(),
              "files": [*files, *(f"broken--{name}.ts" for name in BROKEN)]}
    (out / "tsconfig.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    result = subprocess.run([str(TSC), "-p", str(out / "tsconfig.json"), "--pretty", "false"],
                            capture_output=True, text=True, timeout=300)
    return _errors(result.stdout + result.stderr), files, result.stdout + result.stderr


def test_the_pinned_packages_are_the_grafana_the_stack_runs() -> None:
    package = json.loads((TYPES_DIR / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((TYPES_DIR / "package-lock.json").read_text(encoding="utf-8"))
    pinned = package["devDependencies"]
    assert pinned["@grafana/schema"] == GRAFANA_VERSION
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in pinned.values()), pinned  # exact versions
    for name, version in pinned.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        installed = TYPES_DIR / "node_modules" / name / "package.json"
        assert installed.is_file(), f"{installed} missing: `make test` installs it (npm ci in {TYPES_DIR})"
        assert json.loads(installed.read_text(encoding="utf-8"))["version"] == version, \
            f"{name} installed is not the locked {version}: run npm ci in {TYPES_DIR}"


def test_every_generated_dashboard_type_checks(checked: tuple[dict[str, list[str]], list[str], str]) -> None:
    errors, files, output = checked
    assert len(files) >= 15  # three specs, five or six dashboards each
    assert {name.split("--")[0] for name in files} == {*SPECS, "shop"}
    wrong = {name: errors[name] for name in files if name in errors}
    assert not wrong, json.dumps(wrong, indent=2)[:4000]
    unexplained = set(errors) - set(files) - {f"broken--{name}.ts" for name in BROKEN}
    assert not unexplained, output[:4000]  # e.g. an error in dashboard.ts itself


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_wrong_dashboard_fails_the_type_check(name: str, checked: tuple[dict[str, list[str]], list[str], str]) -> None:
    errors, _, output = checked
    found = errors.get(f"broken--{name}.ts", [])
    word = BROKEN[name][2]
    assert found, f"tsc accepted the broken dashboard {name}:\n{output[:2000]}"
    assert any(word in message for message in found), found
