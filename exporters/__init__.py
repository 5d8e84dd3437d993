"""The obstack exporter: probes for Postgres, Redis, job queues and HTTP health behind one collector."""
