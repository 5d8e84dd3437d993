"""The one error type of deploy: a one-line message the user sees as is."""

from __future__ import annotations


class DeployError(Exception):
    """A deploy step failed; ``str(error)`` is one line naming what failed."""
