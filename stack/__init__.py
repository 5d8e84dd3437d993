"""obstack: observability and alerting as code, from one stack spec."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("obstack")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
