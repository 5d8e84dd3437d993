"""obstack: observability and alerting as code. One import package; its parts (``obstack.stack``,
``obstack.alerts``, ``obstack.dashboards``, ``obstack.exporters``, ``obstack.compose``,
``obstack.foundation``) live in the repository's top-level folders of those names."""
