"""The floor every other package stands on: artifacts, findings, lint rules and the catalog of series.

Imports nothing of obstack's own (only the standard library and third-party packages), so the
spec, the generators, the validators and the exporter can all import it without a cycle.
"""
