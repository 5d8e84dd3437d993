"""Installing obstack adds one import package, ``obstack``, whose parts are the repository's
top-level folders (pyproject.toml's package-dir); the wheel carries every module and data file."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("stack", "alerts", "dashboards", "exporters", "compose", "foundation")


def _setuptools() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_folder_with_modules_is_a_package_of_obstack() -> None:
    """A new subpackage cannot be left out of the wheel: the list is the folders holding modules."""
    folders = {path.parent for folder in FOLDERS for path in (ROOT / folder).rglob("*.py")}
    expected = {"obstack"} | {"obstack." + folder.relative_to(ROOT).as_posix().replace("/", ".") for folder in folders}
    assert set(_setuptools()["packages"]) == expected
    assert _setuptools()["package-dir"] == {"obstack": "obstack", **{f"obstack.{f}": f for f in FOLDERS}}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600, check=False)  # a guard against a hang
    assert build.returncode == 0, build.stderr[-2000:]
    return zipfile.ZipFile(next(out.glob("obstack-*.whl")))


def test_the_wheel_installs_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"obstack"}
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert not top_level or wheel.read(top_level[0]).decode().split() == ["obstack"]


def test_the_wheel_carries_every_module_and_data_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    sources = {f"obstack/{path.relative_to(ROOT).as_posix()}" for folder in FOLDERS
               for path in (ROOT / folder).rglob("*.py")}
    assert sources <= names
    assert {"obstack/stack/spec/default.yaml", "obstack/alerts/burn_rate_windows.yaml"} <= names
    assert any(name.startswith("obstack/compose/templates/") and name.endswith(".j2") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "obstack = obstack.stack.cli:main" in wheel.read(entry_points).decode()
