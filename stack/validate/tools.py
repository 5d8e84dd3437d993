"""Running external tools (promtool, amtool, docker-compose) as validators.

A tool that is not installed is a visible failure naming the package that provides it,
never a silent pass.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Which Debian package provides each tool we call.
TOOL_PACKAGES: dict[str, str] = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "docker-compose": "docker-compose",
}


class ToolMissing(Exception):
    def __init__(self, tool: str) -> None:
        package = TOOL_PACKAGES.get(tool, tool)
        super().__init__(f"{tool} is not installed (not on PATH); install the Debian package '{package}'")
        self.tool = tool


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    output: str  # stdout and stderr together, as the tool printed them


def run_tool(tool: str, args: list[str], cwd: Path | None = None, timeout: float = 120) -> ToolRun:
    executable = shutil.which(tool)
    if executable is None:
        raise ToolMissing(tool)
    try:
        completed = subprocess.run(
            [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return ToolRun(124, f"{tool} did not finish within {timeout:g}s")
    return ToolRun(completed.returncode, (completed.stdout + completed.stderr).strip())
