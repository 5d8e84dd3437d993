"""Validators: independent checks of a generated tree, each returning findings."""
