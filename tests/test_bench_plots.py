"""The benchmark report stays whole: every results file is plotted, shown and reproducible.

docs/benchmarks.md shows the PNGs that bench/plot.py draws from bench/results/*.json; these
tests redraw each plot from the committed results and check that the page shows it and names
the command that produced the results.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"


def _plot_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_plot", ROOT / "bench" / "plot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


PLOT = _plot_module()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_every_bench_has_committed_results() -> None:
    assert sorted(p.stem for p in RESULTS.glob("*.json")) == sorted(PLOT.PLOTS)


@pytest.mark.parametrize("bench", sorted(PLOT.PLOTS))
def test_results_are_plotted_shown_and_reproducible(bench: str, tmp_path: Path) -> None:
    results = json.loads((RESULTS / f"{bench}.json").read_text())
    # The page names the command that reproduces the results, and shows the plot.
    page = PAGE.read_text()
    script = results["command"].split()[1]
    assert script in page, f"docs/benchmarks.md does not say how to run {script}"
    image = PLOT.image_name(bench)
    assert f"](img/{image})" in page, f"docs/benchmarks.md does not show img/{image}"
    committed = ROOT / "docs" / "img" / image
    assert committed.exists(), f"{committed} missing: run make plots"
    width, height = _png_size(committed)
    assert width >= 600 and height >= 300
    # The plot draws from the committed results (a results file the plotter cannot read fails here).
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{bench}.json").write_text(json.dumps(results))
    written = PLOT.draw(tmp_path / "results", tmp_path / "img")
    assert [p.name for p in written] == [image]
    assert _png_size(written[0]) == (width, height)
