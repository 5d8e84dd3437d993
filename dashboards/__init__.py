"""Grafana dashboards built from the spec, their provisioning and the dashboard lint."""
