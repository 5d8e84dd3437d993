"""Benchmarks of the obstack exporter (run as scripts: see docs/benchmarks.md)."""
