"""Probes: one module per kind of target. Each owns its target's one connection and turns a
single round trip into a ``ProbeResult``; none raises into the collector."""
