"""Prometheus server configuration, alert and recording rules, their tests, Alertmanager config."""
