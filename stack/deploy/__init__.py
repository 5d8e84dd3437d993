"""`obstack deploy`: push the generated tree to Prometheus, Alertmanager and Grafana, verify
each server serves it, and roll back to the previous files when anything fails."""
